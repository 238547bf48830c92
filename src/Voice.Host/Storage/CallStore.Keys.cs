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
    public async Task<(string CallId, string? RequestHash)?> ReserveKeyAsync(string key, string callId, string? requestHash)
    {
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

    public void ReleaseKey(string key, string callId)
    {
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
