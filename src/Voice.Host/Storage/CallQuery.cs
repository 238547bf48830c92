namespace Voice.Host.Storage;

/// <summary>A history query: filters, and the cursor of the page before.</summary>
public sealed record CallQuery
{
    public string? State { get; init; }

    public string? To { get; init; }

    public DateTimeOffset? From { get; init; }

    public DateTimeOffset? Until { get; init; }

    /// <summary>The <see cref="CallPage.Next"/> of the previous page.</summary>
    public string? Cursor { get; init; }

    public int Limit { get; init; } = 50;
}

/// <summary>One page of calls, newest first, and the cursor of the next (null at the end).</summary>
public sealed record CallPage(IReadOnlyList<CallRecord> Calls, string? Next);

/// <summary>Calls per caller ID or destination (<see cref="Key"/>) today, this week, this month and this year.</summary>
public sealed record PeriodCount
{
    public string Key { get; init; } = string.Empty;

    public long Today { get; init; }

    public long Week { get; init; }

    public long Month { get; init; }

    public long Year { get; init; }
}

/// <summary>The counters of <c>GET /api/stats</c>.</summary>
public sealed record CallCounts(IReadOnlyList<PeriodCount> ByCallerId, IReadOnlyList<PeriodCount> ByDestination);
