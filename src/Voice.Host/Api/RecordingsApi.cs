using Microsoft.AspNetCore.Http.Features;
using Voice.Control.Calls;
using Voice.Control.Tts;
using Voice.Host.Storage;

namespace Voice.Host.Api;

/// <summary>A recording on a call's view: what the call reported, and whether its file can be fetched.</summary>
public sealed record RecordingView(
    int Part, string Status, string MixType, DateTimeOffset StartedAt, DateTimeOffset? StoppedAt, string? Detail,
    bool Available, long? Bytes, int? DurationMs, string? Url);

/// <summary>
/// Call recordings: <c>GET /api/call/{id}/recording</c> streams one (range requests, so a player can seek), and, when
/// FreeSWITCH runs elsewhere, <c>PUT /fs/recordings/{name}</c> takes the file FreeSWITCH uploads at the recording's end.
/// </summary>
internal static class RecordingsApi
{
    /// <summary>How long after a call ends its recording may still be uploaded.</summary>
    public static readonly TimeSpan UploadWindow = TimeSpan.FromMinutes(10);

    public static IEndpointRouteBuilder MapRecordingsApi(this IEndpointRouteBuilder routes, CallRecordingOptions options)
    {
        routes.MapGet("/api/call/{callId}/recording", async (string callId, int? part, IOutboundCalls calls, ICallStore store) =>
        {
            var (found, recordings, _) = await FindAsync(callId, calls, store);
            if (!found)
            {
                return ApiErrors.NotFound(callId);
            }
            var recording = part is { } wanted ? recordings.FirstOrDefault(r => r.Part == wanted) : recordings.FirstOrDefault();
            if (recording is null)
            {
                return ApiErrors.Problem(StatusCodes.Status404NotFound, "no_recording",
                    part is null ? $"Call {callId} has no recording" : $"Call {callId} has no recording {part}", part is null ? "callId" : "part");
            }
            if (recording.Status == RecordingStatuses.Failed || recording.File is null)
            {
                return ApiErrors.Problem(StatusCodes.Status404NotFound, "recording_failed", $"Recording {recording.Part} of call {callId} failed: {recording.Detail}");
            }
            if (recording.Status == RecordingStatuses.Recording)
            {
                return ApiErrors.Problem(StatusCodes.Status409Conflict, "recording_in_progress", $"Recording {recording.Part} of call {callId} is still running; it can be fetched once it stops");
            }
            var path = Path.Combine(options.Directory, recording.File);
            if (!File.Exists(path))
            {
                return ApiErrors.Problem(StatusCodes.Status404NotFound, "recording_not_received", NotReceived(recording.Part, options));
            }
            return Results.File(path, "audio/wav", enableRangeProcessing: true);
        })
            .WithTags("Calls")
            .WithSummary("A call's recording as WAV (part 1 unless ?part=N); supports range requests")
            .Produces(StatusCodes.Status200OK, contentType: "audio/wav").ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        if (options.Uploaded)
        {
            routes.MapPut("/fs/recordings/{name}", (string name, HttpContext context, IOutboundCalls calls, ICallStore store, TimeProvider time) =>
                ReceiveAsync(name, context, calls, store, time, options)).ExcludeFromDescription();
        }
        return routes;
    }

    /// <summary>The call's recordings with their files' state, as GET /api/call/{id} shows them.</summary>
    public static IReadOnlyList<RecordingView> Views(string callId, IReadOnlyList<RecordingEntry> recordings, CallRecordingOptions? options, DateTimeOffset? endedAt, DateTimeOffset now) =>
        [.. recordings.Select(r =>
        {
            var file = r.File is not null && options is not null ? new FileInfo(Path.Combine(options.Directory, r.File)) : null;
            var available = r.Status == RecordingStatuses.Recorded && file is { Exists: true };
            var detail = r.Detail;
            if (r.Status == RecordingStatuses.Recorded && !available && endedAt is { } ended && now - ended > TimeSpan.FromMinutes(1))
            {
                detail = NotReceived(r.Part, options);
            }
            return new RecordingView(r.Part, r.Status, r.Stereo ? "stereo" : "mixed", r.StartedAt, r.StoppedAt, detail, available,
                available ? file!.Length : null, available ? DurationMs(file!) : null,
                available ? $"/api/call/{Uri.EscapeDataString(callId)}/recording?part={r.Part}" : null);
        })];

    private static string NotReceived(int part, CallRecordingOptions? options) => options is { Uploaded: true }
        ? $"Recording {part} has not been uploaded by FreeSWITCH (it uploads when the recording ends; check that it can reach {options.FreeSwitchTarget})"
        : $"Recording {part} is not in the recording directory (FreeSWITCH writes it there when the recording ends; check that it can write {options?.FreeSwitchTarget ?? options?.Directory})";

    private static int? DurationMs(FileInfo file)
    {
        try
        {
            Span<byte> head = stackalloc byte[512];
            using var stream = file.OpenRead();
            var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return Wav.Describe(head[..read], file.Length) is { } wav ? (int)wav.Duration.TotalMilliseconds : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A call's recordings: from the live call, or from its stored results; whether the call exists at all, and when it ended.</summary>
    public static async Task<(bool Found, IReadOnlyList<RecordingEntry> Recordings, DateTimeOffset? EndedAt)> FindAsync(string callId, IOutboundCalls calls, ICallStore store)
    {
        if (calls.Get(callId) is { } live)
        {
            return (true, RecordingFiles.Of(live.Results), live.EndedAt);
        }
        return await store.GetAsync(callId) is { } stored ? (true, RecordingFiles.Of(stored.ResultsJson), stored.EndedAt) : (false, [], null);
    }

    /// <summary>
    /// FreeSWITCH's upload of a finished recording (mod_httapi's PUT). Taken only for a file a call reported and that is not
    /// here yet, within <see cref="UploadWindow"/> of the call's end, up to the recording size cap, and only a WAV file.
    /// </summary>
    private static async Task<IResult> ReceiveAsync(string name, HttpContext context, IOutboundCalls calls, ICallStore store, TimeProvider time, CallRecordingOptions options)
    {
        var callId = RecordingFiles.CallIdOf(name);
        var (found, recordings, endedAt) = callId is null ? (false, [], null) : await FindAsync(callId, calls, store);
        if (!found || !recordings.Any(r => r.File == name) || (endedAt is { } ended && time.GetUtcNow() - ended > UploadWindow))
        {
            return ApiErrors.Problem(StatusCodes.Status404NotFound, "unknown_recording", "No call is waiting for a recording of this name", "name");
        }
        var path = Path.Combine(options.Directory, name);
        if (File.Exists(path))
        {
            return ApiErrors.Problem(StatusCodes.Status409Conflict, "recording_exists", "This recording has been received already", "name");
        }
        if (context.Request.ContentLength > options.MaxBytes)
        {
            return TooLarge(options);
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.MaxBytes;
        }
        Directory.CreateDirectory(options.Directory);
        // Written under a name no reader looks for, then moved: nobody downloads half a file.
        var partial = Path.Combine(options.Directory, "." + name + "." + Guid.NewGuid().ToString("N") + ".part");
        try
        {
            var head = new byte[512];
            long total;
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                total = await CopyAsync(context.Request.Body, file, options.MaxBytes, head, context.RequestAborted);
            }
            if (total < 0)
            {
                return TooLarge(options);
            }
            if (Wav.Describe(head.AsSpan(0, (int)Math.Min(total, head.Length)), total) is null)
            {
                return ApiErrors.Problem(StatusCodes.Status415UnsupportedMediaType, "not_wav", "A recording must be a 16-bit PCM WAV file");
            }
            File.Move(partial, path, overwrite: false);
            return Results.StatusCode(StatusCodes.Status201Created);
        }
        catch (IOException) when (File.Exists(path))
        {
            return ApiErrors.Problem(StatusCodes.Status409Conflict, "recording_exists", "This recording has been received already", "name");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(options);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>Copies at most <paramref name="limit"/> bytes, keeping the first ones in <paramref name="head"/>; -1 when there were more.</summary>
    private static async Task<long> CopyAsync(Stream from, Stream to, long limit, byte[] head, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await from.ReadAsync(buffer, ct)) > 0)
        {
            if (total < head.Length)
            {
                buffer.AsSpan(0, (int)Math.Min(read, head.Length - total)).CopyTo(head.AsSpan((int)total));
            }
            total += read;
            if (total > limit)
            {
                return -1;
            }
            await to.WriteAsync(buffer.AsMemory(0, read), ct);
        }
        return total;
    }

    private static IResult TooLarge(CallRecordingOptions options) => ApiErrors.Problem(StatusCodes.Status413PayloadTooLarge, "recording_too_large",
        $"A recording is at most {options.MaxBytes / (1024 * 1024)} MB ({options.MaxDuration.TotalMinutes:0} minutes)");
}
