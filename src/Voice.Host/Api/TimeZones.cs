namespace Voice.Host.Api;

/// <summary>The <c>?tz=</c> of the counting endpoints: an IANA name, UTC when absent.</summary>
internal static class TimeZones
{
    /// <summary>The zone <paramref name="tz"/> names; false with the 400 that says why when it names none.</summary>
    public static bool TryFind(string? tz, out TimeZoneInfo zone, out IResult? problem)
    {
        problem = null;
        try
        {
            zone = string.IsNullOrEmpty(tz) ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(tz);
            return true;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            zone = TimeZoneInfo.Utc;
            problem = ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", $"tz: '{tz}' is not a known time zone (use an IANA name such as Europe/Berlin)", "tz");
            return false;
        }
    }
}
