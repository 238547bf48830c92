using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Net.Http.Headers;

namespace Voice.Host.Api;

/// <summary>
/// Reads a JSON request body as the API's clients send it, and says what is wrong with one in the client's
/// terms: the field and what it must be, never a .NET type name. Numbers must be JSON numbers (<c>"repeat":"5"</c>
/// is refused, as a typed API would), and the body must be <c>application/json</c> (or a <c>+json</c> type) in UTF-8.
/// </summary>
internal static class RequestBody
{
    /// <summary>The API's JSON: camelCase names, numbers only as numbers.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.Strict };

    /// <summary>Null when the Content-Type says JSON in UTF-8; otherwise what the client must send instead.</summary>
    public static string? ContentTypeProblem(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var type)
            || !(type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)))
        {
            return "Send the request as application/json";
        }
        return type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            ? "Send the request as application/json in UTF-8 (charset=utf-8)"
            : null;
    }

    /// <summary>
    /// The body as <typeparamref name="T"/>, or the error to answer with: 400 naming the field for bad JSON, 413
    /// past <paramref name="maxBytes"/>, 408 when the client stopped sending. A body that stalls is the client's
    /// problem, logged at Information, not an error of the host.
    /// </summary>
    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpContext context, long maxBytes)
        where T : class
    {
        try
        {
            using var body = new LimitedStream(context.Request.Body, maxBytes);
            var value = await JsonSerializer.DeserializeAsync<T>(body, Json, context.RequestAborted);
            return value is null
                ? (null, ApiErrors.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body must be a JSON object"))
                : (value, null);
        }
        catch (JsonException ex)
        {
            var field = Field(ex.Path);
            return (null, ApiErrors.Problem(StatusCodes.Status400BadRequest, "malformed_json", Describe<T>(ex, field), field));
        }
        catch (InvalidOperationException)
        {
            // Bytes that are not UTF-8 inside a string.
            return (null, ApiErrors.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body is not valid UTF-8 JSON"));
        }
        catch (LimitedStream.TooLargeException)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (BadHttpRequestException ex)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestBody))
                .LogInformation("A request body from {Remote} was not read: {Reason}", context.Connection.RemoteIpAddress, ex.Message);
            return (null, ex.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => TooLarge(maxBytes),
                StatusCodes.Status408RequestTimeout => ApiErrors.Problem(StatusCodes.Status408RequestTimeout, "request_timeout", "The request body did not arrive in time"),
                _ => ApiErrors.Problem(StatusCodes.Status400BadRequest, "bad_request", "The request body could not be read: it ended early or was malformed"),
            });
        }
    }

    public static IResult TooLarge(long maxBytes) =>
        ApiErrors.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The request body is larger than {maxBytes / 1024} KB");

    /// <summary><c>$.headers.X-A</c> → <c>headers.X-A</c>; the whole body → null.</summary>
    private static string? Field(string? path)
    {
        var field = path?.TrimStart('$').TrimStart('.');
        return string.IsNullOrEmpty(field) ? null : field;
    }

    private static string Describe<T>(JsonException ex, string? field)
    {
        // A value of the wrong kind: say what the field takes. Anything else is a syntax error at a position.
        if (ex.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            if (field is null)
            {
                return "The body must be a JSON object";
            }
            var name = field.Split('.', '[')[0];
            var property = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .FirstOrDefault(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name) == name);
            // A string whose bytes are not UTF-8, or whose escapes leave half a surrogate pair.
            return ex.InnerException is InvalidOperationException or ArgumentException
                ? $"{field}: is not valid text (invalid UTF-8 or a lone surrogate)"
                : $"{field}: {(property is null ? "has the wrong type" : Expected(property.PropertyType))}";
        }
        var position = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : string.Empty;
        var reason = ex.Message;
        foreach (var tail in new[] { " Path:", " LineNumber:" })
        {
            reason = reason.IndexOf(tail, StringComparison.Ordinal) is > 0 and var cut ? reason[..cut] : reason;
        }
        // The reader's own words, unless they name .NET types.
        return reason.Contains("System.", StringComparison.Ordinal) || reason.Contains('`')
            ? $"The body is not valid JSON{position}"
            : $"The body is not valid JSON{position}: {reason.TrimEnd('.')}";
    }

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(string) ? "must be a string"
            : type == typeof(int) || type == typeof(long) ? "must be a whole number"
            : type == typeof(bool) ? "must be true or false"
            : typeof(IDictionary<string, string>).IsAssignableFrom(type) ? "must be an object whose values are strings"
            : typeof(IEnumerable<string>).IsAssignableFrom(type) ? "must be an array of strings"
            : "has the wrong type";
    }
}
