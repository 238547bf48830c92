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
