using System.Collections.Concurrent;
using Dapper;

namespace Voice.Host.Storage;

/// <summary>Idempotency keys: reserved in memory while their call is being accepted, stored with the call.</summary>
public sealed partial class CallStore
{
    private readonly ConcurrentDictionary<string, KeyReservation> _keys = new(StringComparer.Ordinal);

    /// <summary>
    /// Reserves an idempotency key for a call about to be accepted. Returns the call and request hash that hold the key
    /// instead when it was used before: stored, or accepted moments ago and not yet written. Concurrent requests with
    /// one key agree on a single call. A reservation lasts until its call is written (the key is then in the database,
    /// until the call is withdrawn) or never accepted.
    /// </summary>
    /// <remarks>
    /// In a cluster the reservation is a row in the database from the start: two hosts given one key at once agree on
    /// whichever inserted it first. A reservation whose call was never written (its host died in between) is taken
    /// over after a minute.
    /// </remarks>
    public async Task<(string CallId, string? RequestHash)?> ReserveKeyAsync(string key, string callId, string? requestHash)
    {
        if (Clustered)
        {
            return await ReserveSharedKeyAsync(key, callId, requestHash);
        }
        var mine = new KeyReservation();
        var holder = _keys.GetOrAdd(key, mine);
        if (holder != mine)
        {
            return await holder.Decided.Task;
        }
        try
        {
            await using var connection = await _database.OpenAsync();
            var stored = await connection.QuerySingleOrDefaultAsync<(string CallId, string RequestHash)?>(
                "SELECT call_id, request_hash FROM idempotency_keys WHERE key = @key", new { key });
            if (stored is { } found)
            {
                mine.Decided.SetResult(found);
                _keys.TryRemove(KeyValuePair.Create(key, mine));
                return found;
            }
        }
        catch (Exception ex)
        {
            mine.Decided.SetException(ex);
            _keys.TryRemove(KeyValuePair.Create(key, mine));
            throw;
        }
        mine.Decided.SetResult((callId, requestHash));
        return null;
    }

    private async Task<(string CallId, string? RequestHash)?> ReserveSharedKeyAsync(string key, string callId, string? requestHash)
    {
        await using var connection = await _database.OpenAsync();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var inserted = await connection.ExecuteAsync(
                "INSERT INTO idempotency_keys (key, call_id, request_hash, created_at) VALUES (@key, @callId, @hash, @now) ON CONFLICT (key) DO NOTHING",
                new { key, callId, hash = requestHash ?? string.Empty, now });
            if (inserted == 1)
            {
                return null;
            }
            var held = await connection.QuerySingleOrDefaultAsync<(string CallId, string RequestHash, long CreatedAt, long Calls)?>(
                "SELECT k.call_id, k.request_hash, k.created_at, (SELECT COUNT(*) FROM calls c WHERE c.call_id = k.call_id) FROM idempotency_keys k WHERE k.key = @key",
                new { key });
            if (held is not { } found)
            {
                continue; // released meanwhile
            }
            if (found.Calls > 0 || now - found.CreatedAt < 60_000)
            {
                return (found.CallId, found.RequestHash.Length == 0 ? null : found.RequestHash);
            }
            await connection.ExecuteAsync("DELETE FROM idempotency_keys WHERE key = @key AND call_id = @stale", new { key, stale = found.CallId });
        }
        return null;
    }

    public void ReleaseKey(string key, string callId)
    {
        if (Clustered)
        {
            // The reservation is a row: it goes, unless the call was written after all (then the key is its own).
            _ = OnWriteThreadAsync((connection, transaction) => connection.Execute(
                "DELETE FROM idempotency_keys WHERE key = @key AND call_id = @callId AND NOT EXISTS (SELECT 1 FROM calls WHERE call_id = @callId)",
                new { key, callId }, transaction)).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }
        if (_keys.TryGetValue(key, out var reservation) && reservation.Decided.Task.IsCompletedSuccessfully
            && reservation.Decided.Task.Result.CallId == callId)
        {
            _keys.TryRemove(KeyValuePair.Create(key, reservation));
        }
    }

    /// <summary>
    /// Written or failed, these keys no longer need holding in memory: a written key is found in the database, a failed
    /// one is free again. (A withdrawal always comes after its call's insert, whose write released the key already.)
    /// </summary>
    private void ReleaseKeys(IReadOnlyList<NewCall> calls)
    {
        if (Clustered)
        {
            return; // nothing held in memory: the reservations are rows, and the calls written now own them
        }
        foreach (var call in calls)
        {
            if (call.IdempotencyKey is { } key)
            {
                ReleaseKey(key, call.Call.CallId);
            }
        }
    }
}

/// <summary>An idempotency key held for the call that reserved it first; the others wait for its decision.</summary>
internal sealed class KeyReservation
{
    public TaskCompletionSource<(string CallId, string? RequestHash)> Decided { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
