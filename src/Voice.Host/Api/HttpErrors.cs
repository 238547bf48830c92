using System.Globalization;
using System.Text;

namespace Voice.Host.Api;

/// <summary>
/// The API's error shape for the errors no endpoint writes: an unknown path (404), a method a path does not take
/// (405), a request line too long (414) and the other empty 4xx and 5xx that routing, static files or the
/// server leave behind.
/// </summary>
internal static class HttpErrors
{
    /// <summary>
    /// The longest path and query VoiceBridge reads (ids, cursors and a few filters fit many times over). Kestrel
    /// accepts request lines up to <see cref="MaxRequestLine"/>, so a longer URL is answered here, in the API's
    /// shape; only a line beyond Kestrel's own limit gets its bare 414.
    /// </summary>
    public const int MaxUrlLength = 8 * 1024;

    public const int MaxRequestLine = 64 * 1024;

    public static WebApplication UseApiErrorPages(this WebApplication app)
    {
        app.UseStatusCodePages(context => Describe(context.HttpContext).ExecuteAsync(context.HttpContext));
        app.Use((context, next) =>
        {
            var request = context.Request;
            return request.Path.Value?.Length + request.QueryString.Value?.Length > MaxUrlLength
                ? ApiErrors.Problem(StatusCodes.Status414UriTooLong, "uri_too_long", $"The URL is longer than {MaxUrlLength / 1024} KB").ExecuteAsync(context)
                : next(context);
        });
        return app;
    }

    private static IResult Describe(HttpContext context)
    {
        var request = context.Request;
        var status = context.Response.StatusCode;
        var path = Preview(request.Path.Value ?? "/");
        var method = Preview(request.Method);
        return status switch
        {
            StatusCodes.Status404NotFound => ApiErrors.Problem(status, "not_found", $"Nothing is at {path}"),
            StatusCodes.Status405MethodNotAllowed => ApiErrors.Problem(status, "method_not_allowed",
                context.Response.Headers.Allow.ToString() is { Length: > 0 } allowed
                    ? $"{path} does not take {method}; it takes {allowed}"
                    : $"{path} does not take {method}"),
            StatusCodes.Status408RequestTimeout => ApiErrors.Problem(status, "request_timeout", "The request did not arrive in time"),
            StatusCodes.Status413PayloadTooLarge => ApiErrors.Problem(status, "body_too_large", "The request body is too large"),
            StatusCodes.Status415UnsupportedMediaType => ApiErrors.Problem(status, "unsupported_media_type", "Send the request as application/json"),
            >= 500 => ApiErrors.Problem(status, "server_error", "VoiceBridge could not answer this request; the log says why"),
            _ => ApiErrors.Problem(status, "bad_request", "The request was refused"),
        };
    }

    /// <summary>A client's text in an error: at most 200 characters, control characters and surrogates shown as <c>\uXXXX</c>.</summary>
    public static string Preview(string text)
    {
        var builder = new StringBuilder();
        foreach (var c in text.Length > 200 ? text[..200] : text)
        {
            _ = char.IsControl(c) || char.IsSurrogate(c) ? builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)) : builder.Append(c);
        }
        return text.Length > 200 ? builder.Append('…').ToString() : builder.ToString();
    }
}
