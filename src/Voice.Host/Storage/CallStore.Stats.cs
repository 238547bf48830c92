using System.Globalization;
using Dapper;

namespace Voice.Host.Storage;

/// <summary>The counters made of the calls: per caller ID and destination, per day, per agent.</summary>
public sealed partial class CallStore
{
    /// <summary>
    /// Calls per caller ID and per destination since each of the four period starts (today, this week, this month,
    /// this year), from the calls and from the daily counts kept of calls already purged. Calls placed with the default
    /// caller ID count under <paramref name="defaultCallerId"/>.
    /// </summary>
    public async Task<CallCounts> CountAsync(DateTimeOffset today, DateTimeOffset week, DateTimeOffset month, DateTimeOffset year, string? defaultCallerId)
    {
        var earliest = new[] { today, week, month, year }.Min();
        var parameters = new
        {
            today = today.ToUnixTimeMilliseconds(),
            week = week.ToUnixTimeMilliseconds(),
            month = month.ToUnixTimeMilliseconds(),
            year = year.ToUnixTimeMilliseconds(),
            earliest = earliest.ToUnixTimeMilliseconds(),
            fallback = defaultCallerId ?? string.Empty,
        };
        // The archive counts whole UTC days; its calls are older than the retention, so only long periods reach them.
        var rows = $"""
            SELECT COALESCE(caller_id, @fallback) AS caller, to_number AS number, created_at AS at, CAST(1 AS BIGINT) AS calls FROM calls WHERE created_at >= @earliest
            UNION ALL
            SELECT CASE caller_id WHEN '' THEN @fallback ELSE caller_id END, to_number, {_database.DayStart("day")}, calls FROM call_counts_archive
            WHERE {_database.DayStart("day")} >= @earliest
            """;
        await using var connection = await _database.OpenAsync();
        async Task<List<PeriodCount>> By(string key) => [.. await connection.QueryAsync<PeriodCount>($"""
            SELECT {key} AS Key, CAST(SUM(CASE WHEN at >= @today THEN calls ELSE 0 END) AS BIGINT) AS Today,
                   CAST(SUM(CASE WHEN at >= @week THEN calls ELSE 0 END) AS BIGINT) AS Week,
                   CAST(SUM(CASE WHEN at >= @month THEN calls ELSE 0 END) AS BIGINT) AS Month,
                   CAST(SUM(CASE WHEN at >= @year THEN calls ELSE 0 END) AS BIGINT) AS Year
            FROM ({rows}) AS counted GROUP BY {key} ORDER BY Year DESC, {key}
            """, parameters)];
        return new CallCounts(await By("caller"), await By("number"));
    }

    /// <summary>
    /// Calls per day for the <paramref name="days"/> days up to today, in the time zone whose offset is
    /// <paramref name="offset"/> (its offset now: a day across a clock change is an hour off), oldest first; days without calls count 0.
    /// </summary>
    public async Task<IReadOnlyList<(DateOnly Day, int Calls)>> CallsPerDayAsync(DateTimeOffset now, int days, TimeSpan offset)
    {
        var today = DateOnly.FromDateTime(now.ToOffset(offset).Date);
        var first = today.AddDays(1 - days);
        var since = new DateTimeOffset(first.ToDateTime(TimeOnly.MinValue), offset);
        await using var connection = await _database.OpenAsync();
        var rows = await connection.QueryAsync<(string Day, long Calls)>($"""
            SELECT {_database.DayOf("created_at + @shift")} AS day, COUNT(*) FROM calls WHERE created_at >= @since GROUP BY 1
            UNION ALL
            SELECT day, CAST(SUM(calls) AS BIGINT) FROM call_counts_archive WHERE day >= @first GROUP BY day
            """, new { shift = (long)offset.TotalMilliseconds, since = since.ToUnixTimeMilliseconds(), first = first.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) });
        var counts = rows.GroupBy(r => DateOnly.ParseExact(r.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => (int)g.Sum(r => r.Calls));
        return [.. Enumerable.Range(0, days).Select(i => first.AddDays(i)).Select(day => (day, counts.GetValueOrDefault(day)))];
    }

    /// <summary>Click-to-call calls per agent since <paramref name="since"/>: all of them, and those that reached the destination.</summary>
    public async Task<IReadOnlyDictionary<string, (int Calls, int Connected)>> AgentCallsSinceAsync(DateTimeOffset since)
    {
        await using var connection = await _database.OpenAsync();
        var rows = await connection.QueryAsync<(string Agent, long Calls, long Connected)>("""
            SELECT agent, COUNT(*), CAST(SUM(CASE WHEN results LIKE '%"outcome":"answered"%' THEN 1 ELSE 0 END) AS BIGINT)
            FROM calls WHERE agent IS NOT NULL AND created_at >= @since GROUP BY agent
            """, new { since = since.ToUnixTimeMilliseconds() });
        return rows.ToDictionary(r => r.Agent, r => ((int)r.Calls, (int)r.Connected), StringComparer.Ordinal);
    }
}
