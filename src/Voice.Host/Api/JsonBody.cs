using System.Text.Json;

namespace Voice.Host.Api;

/// <summary>
/// A JSON answer sent with its length, in one write. <c>Results.Ok</c> streams the body chunked, and Kestrel sends
/// the body and the chunked encoding's last chunk as two TCP segments: for the API's small answers, every request
/// cost one more send (and wake-up of the client) than it needs. Serialized with <see cref="ApiJson.HostOptions"/>, the
/// host's JSON options, without looking them up in the request's services (which made a service scope per request).
/// </summary>
internal sealed class JsonBody(object? value, int statusCode, string contentType) : IResult, IStatusCodeHttpResult, IValueHttpResult, IContentTypeHttpResult
{
    public const string Json = "application/json; charset=utf-8";

    public int? StatusCode => statusCode;

    public object? Value => value;

    public string ContentType => contentType;

    public static JsonBody Ok(object? value) => new(value, StatusCodes.Status200OK, Json);

    public Task ExecuteAsync(HttpContext context)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(value, value?.GetType() ?? typeof(object), ApiJson.HostOptions);
        var response = context.Response;
        response.StatusCode = statusCode;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }
}
