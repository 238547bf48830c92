using Voice.Control;
using Voice.Host.Storage;

namespace Voice.Host.Api;

/// <summary>
/// <c>GET /api/stats</c>: calls per caller ID and per destination today, this week (from Monday), this month and
/// this year, as the outbound-calling guide tracks them, but counted from the call records rather than kept as
/// counters. Periods start at midnight in UTC, or in the time zone of <c>?tz=</c> (an IANA name).
/// </summary>
internal static class StatsApi
{
    public static IEndpointRouteBuilder MapStatsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/stats", async (string? tz, ICallStore store, CallRecorder recorder, VoiceControlOptions options, TimeProvider time) =>
        {
            if (!TimeZones.TryFind(tz, out var zone, out var badZone))
            {
                return badZone!;
            }
            var periods = Periods(time.GetUtcNow(), zone);
            await recorder.WrittenAsync();
            var counts = await store.CountAsync(periods.Today, periods.Week, periods.Month, periods.Year, options.Calls.DefaultCallerId);
            return JsonBody.Ok(new
            {
                success = true,
                timeZone = zone.Id,
                periods = new { today = periods.Today, week = periods.Week, month = periods.Month, year = periods.Year },
                total = new
                {
                    today = counts.ByDestination.Sum(c => c.Today),
                    week = counts.ByDestination.Sum(c => c.Week),
                    month = counts.ByDestination.Sum(c => c.Month),
                    year = counts.ByDestination.Sum(c => c.Year),
                },
                byCallerId = counts.ByCallerId.Select(c => new { callerId = c.Key.Length == 0 ? null : c.Key, c.Today, c.Week, c.Month, c.Year }),
                byDestination = counts.ByDestination.Select(c => new { to = c.Key, c.Today, c.Week, c.Month, c.Year }),
            });
        })
            .WithTags("Calls").WithSummary("Calls per caller ID and per destination today, this week, this month and this year")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return routes;
    }

    /// <summary>The starts of today, this ISO week (Monday), this month and this year in <paramref name="zone"/>.</summary>
    public static (DateTimeOffset Today, DateTimeOffset Week, DateTimeOffset Month, DateTimeOffset Year) Periods(DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone).DateTime.Date;
        DateTimeOffset Start(DateTime day) => new(day, zone.GetUtcOffset(day));
        var sinceMonday = ((int)local.DayOfWeek + 6) % 7;
        return (Start(local), Start(local.AddDays(-sinceMonday)), Start(new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified)),
            Start(new DateTime(local.Year, 1, 1, 0, 0, 0, DateTimeKind.Unspecified)));
    }
}
