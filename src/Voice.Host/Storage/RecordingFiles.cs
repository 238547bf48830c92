using System.Text.Json;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>One recording of a call as the host knows it: what the call reported, and whether its file is here.</summary>
internal sealed record RecordingEntry(int Part, string? File, bool Stereo, string Status, DateTimeOffset StartedAt, DateTimeOffset? StoppedAt, string? Detail);

/// <summary>
/// The recording directory: which call a file belongs to (its name starts with the call's id), a call's recordings from
/// its live snapshot or its stored results, and the deletion of the files of purged calls.
/// </summary>
internal static class RecordingFiles
{
    /// <summary>The call id of a file named <c>&lt;call&gt;-&lt;part&gt;-&lt;random&gt;.wav</c>; null for another name.</summary>
    public static string? CallIdOf(string name)
    {
        if (!CallRecordingOptions.IsFileName(name))
        {
            return null;
        }
        var stem = name[..^".wav".Length];
        var token = stem.LastIndexOf('-');
        var part = token > 0 ? stem.LastIndexOf('-', token - 1) : -1;
        return part > 0 && int.TryParse(stem.AsSpan(part + 1, token - part - 1), out _) ? stem[..part] : null;
    }

    /// <summary>The recordings a live call reports.</summary>
    public static IReadOnlyList<RecordingEntry> Of(CallResults results) =>
        [.. results.Recordings.Select(r => new RecordingEntry(r.Part, r.File, r.Stereo, r.Status, r.StartedAt, r.StoppedAt, r.Detail))];

    /// <summary>The recordings in a stored call's results (<see cref="CallResultsJson"/>).</summary>
    public static IReadOnlyList<RecordingEntry> Of(string? resultsJson)
    {
        if (resultsJson is null)
        {
            return [];
        }
        using var document = JsonDocument.Parse(resultsJson);
        if (!document.RootElement.TryGetProperty("recordings", out var recordings))
        {
            return [];
        }
        return [.. recordings.EnumerateArray().Select(r => new RecordingEntry(
            r.GetProperty("part").GetInt32(),
            r.GetProperty("file").GetString(),
            r.GetProperty("mixType").GetString() != "mixed",
            r.GetProperty("status").GetString()!,
            r.GetProperty("startedAt").GetDateTimeOffset(),
            r.GetProperty("stoppedAt").ValueKind == JsonValueKind.Null ? null : r.GetProperty("stoppedAt").GetDateTimeOffset(),
            r.GetProperty("detail").GetString()))];
    }

    /// <summary>
    /// Deletes the recordings of <paramref name="purgedCalls"/>, and files last written before <paramref name="orphansBefore"/>
    /// that belong to no stored call (an upload for a call that was never stored); returns how many.
    /// </summary>
    public static async Task<int> DeleteAsync(string directory, IReadOnlyCollection<string> purgedCalls, DateTimeOffset orphansBefore, Func<string, Task<bool>> callExists)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }
        var purged = purgedCalls.ToHashSet(StringComparer.Ordinal);
        var deleted = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*.wav"))
        {
            var callId = CallIdOf(file.Name);
            var goes = callId is not null && purged.Contains(callId)
                || (file.LastWriteTimeUtc < orphansBefore.UtcDateTime && (callId is null || !await callExists(callId).ConfigureAwait(false)));
            if (!goes)
            {
                continue;
            }
            try
            {
                file.Delete();
                deleted++;
            }
            catch (IOException)
            {
                // Held open by a download: the next purge takes it.
            }
        }
        return deleted;
    }
}
