namespace Voice.Host.Api;

/// <summary>
/// Errors as <c>application/problem+json</c> (RFC 9457) that also carry the original API's
/// <c>success:false</c>, <c>error</c> and <c>message</c>, and the failing field when there is one.
/// </summary>
internal static class ApiErrors
{
    public static IResult Problem(int status, string code, string message, string? field = null, IDictionary<string, string[]>? errors = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["type"] = $"https://voicebridge.dev/errors/{code}",
            ["title"] = Title(status),
            ["status"] = status,
            ["detail"] = message,
            ["success"] = false,
            ["error"] = message,
            ["message"] = message,
            ["code"] = code,
        };
        if (field is not null)
        {
            body["field"] = field;
        }
        if (errors is not null)
        {
            body["errors"] = errors;
        }
        return new JsonBody(body, status, "application/problem+json");
    }

    public static IResult Validation(IDictionary<string, string[]> errors)
    {
        var (field, messages) = errors.First();
        return Problem(StatusCodes.Status400BadRequest, "validation_error", $"{field}: {messages[0]}", field, errors);
    }

    /// <summary>A 429 with <c>Retry-After</c> in whole seconds (at least 1), which the message may quote.</summary>
    public static IResult TooManyRequests(HttpContext context, TimeSpan retryAfter, string code, Func<int, string> message)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problem(StatusCodes.Status429TooManyRequests, code, message(seconds));
    }

    public static IResult NotFound(string callId) =>
        Problem(StatusCodes.Status404NotFound, "not_found", $"Call not found: {HttpErrors.Preview(callId)}", "callId");

    private static string Title(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
}
