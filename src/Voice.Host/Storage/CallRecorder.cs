using System.Text.Json;
using System.Threading.Channels;
using Voice.Control.Calls;
using Voice.Host.Api;

namespace Voice.Host.Storage;

/// <summary>
/// Writes every state change to the store, in batches (one transaction per batch) with the webhooks they
/// queue, wakes the webhook sender, re-places the calls that
/// were still queued when the host last stopped, and purges history past the retention.
/// </summary>
internal sealed class CallRecorder(IOutboundCalls calls, SqliteCallStore store, StorageOptions options, Webhooks.WebhookSender webhooks, TimeProvider time, ILogger<CallRecorder> logger)
    : BackgroundService
{
    /// <summary>
    /// Writes per transaction: batching saves commits, but the write lock is held for the whole batch and a POST
    /// waits for it, so batches stay short (a few milliseconds).
    /// </summary>
    public const int MaxBatch = 32;

    /// <summary>How often the write-ahead log is copied into the database file.</summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(250);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Calls found queued at start-up, placed again once the recorder listens.</summary>
    public IReadOnlyList<CallRecord> Requeue { get; set; } = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = Channel.CreateUnbounded<CallStateChange>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        // Subscribed before anything else runs, so no change is missed; the host stopping ends the stream.
        var pump = PumpAsync(calls.WatchAsync(CancellationToken.None), pending.Writer);
        foreach (var call in Requeue)
        {
            PlaceAgain(call);
        }
        var purge = PurgeLoopAsync(stoppingToken);
        var checkpoint = CheckpointLoopAsync(stoppingToken);
        var batch = new List<CallStateChange>(MaxBatch);
        await foreach (var first in pending.Reader.ReadAllAsync(CancellationToken.None))
        {
            batch.Add(first);
            while (batch.Count < MaxBatch && pending.Reader.TryRead(out var more))
            {
                batch.Add(more);
            }
            try
            {
                if (await store.RecordAsync(batch) > 0)
                {
                    webhooks.Wake();
                }
            }
            catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
            {
                logger.LogError(ex, "Could not record {Count} state changes", batch.Count);
            }
            batch.Clear();
        }
        await pump;
        await purge;
        await checkpoint;
    }

    private static async Task PumpAsync(IAsyncEnumerable<CallStateChange> changes, ChannelWriter<CallStateChange> writer)
    {
        await foreach (var change in changes)
        {
            writer.TryWrite(change);
        }
        writer.TryComplete();
    }

    private void PlaceAgain(CallRecord call)
    {
        try
        {
            var request = JsonSerializer.Deserialize<OutboundCallRequest>(call.RequestJson, Json)!;
            calls.Place(request.ToCallRequest(), call.CallId);
            logger.LogInformation("Call {CallId} was queued when the host stopped; queued again", call.CallId);
        }
        catch (Exception ex) when (ex is JsonException or CallRequestException or CallQueueFullException)
        {
            logger.LogError("Call {CallId} was queued when the host stopped and cannot be queued again: {Error}", call.CallId, ex.Message);
        }
    }

    /// <summary>
    /// Keeps the database's write-ahead log short with checkpoints off the write path (see
    /// <see cref="SqliteCallStore.CheckpointAsync"/>); at 200 calls/s with every webhook the log grows by about 8,000 pages a second, and the copy under the write lock takes 2–13 ms.
    /// </summary>
    private async Task CheckpointLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(CheckpointInterval, time, stoppingToken);
                try
                {
                    await store.CheckpointAsync();
                }
                catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
                {
                    logger.LogError(ex, "Could not checkpoint the database");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task PurgeLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var purged = await store.PurgeAsync(time.GetUtcNow() - options.Retention);
                if (purged > 0)
                {
                    logger.LogInformation("Deleted {Count} calls older than the retention of {Days} days", purged, options.Retention.TotalDays);
                }
                await Task.Delay(TimeSpan.FromHours(1), time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
