using System.Net;
using System.Text;
using System.Threading.Channels;
using Voice.Host.Storage;

namespace Voice.Host.Webhooks;

/// <summary>
/// Delivers the outbox: signed JSON POSTs, one call's events strictly in order (a later event waits while an
/// earlier one is retried), different calls in parallel. Connection errors, timeouts, 408, 429 and 5xx are
/// retried with exponential back-off (a Retry-After is honoured) until <see cref="WebhookOptions.GiveUpAfter"/>;
/// any other answer is final. Every attempt is written back, so a restart resumes where this one stopped
/// (delivery is at least once: receivers de-duplicate on <c>callId</c> + <c>sequence</c>).
/// </summary>
/// <remarks>
/// The outbox in the database is the truth; the schedule is kept in memory. The recorder hands over each webhook
/// it wrote (<see cref="Enqueue"/>), and the pending ones are read back only at start-up, or after more were
/// pending than <see cref="WebhookOptions.MaxInMemory"/> and the excess was left to the database. So a running host sends a
/// webhook without reading the outbox, and a quiet one does nothing at all: no polling, no timer but a retry's.
/// </remarks>
internal sealed class WebhookSender : BackgroundService
{
    private readonly SqliteCallStore _store;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookSender> _logger;
    private readonly HttpClient _http;
    private readonly Channel<Signal> _signals = Channel.CreateUnbounded<Signal>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<(WebhookAttempt Attempt, TaskCompletionSource Written)> _outcomes =
        Channel.CreateUnbounded<(WebhookAttempt, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    // Touched only by the sending loop.
    private readonly Dictionary<string, Queue<Outgoing>> _queues = new(StringComparer.Ordinal);
    private readonly HashSet<long> _known = [];
    private readonly PriorityQueue<string, DateTimeOffset> _due = new();
    private readonly Dictionary<string, DateTimeOffset> _dueAt = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private readonly List<Task> _deliveries = [];
    private bool _overflowed;

    public WebhookSender(SqliteCallStore store, WebhookOptions options, TimeProvider time, ILogger<WebhookSender> logger, HttpMessageHandler? handler = null)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = options.Timeout,
            AllowAutoRedirect = false,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Webhooks the recorder has just written to the outbox, in order; they go out as soon as their call's earlier ones have.</summary>
    public void Enqueue(IReadOnlyList<WebhookDelivery> written) => _signals.Writer.TryWrite(new Signal(written, null));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _logger.LogInformation("Webhooks are signed (X-VoiceBridge-Signature) with the secret from {Source}", _options.SecretSource);
        var writer = WriteOutcomesAsync();
        try
        {
            await LoadPendingAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                while (_signals.Reader.TryRead(out var signal))
                {
                    Apply(signal);
                }
                if (_overflowed && _queues.Count == 0)
                {
                    await LoadPendingAsync(stoppingToken);
                }
                StartDue(stoppingToken);
                await WaitAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await Task.WhenAll(_deliveries);
        _outcomes.Writer.TryComplete();
        await writer;
    }

    /// <summary>The outbox's pending webhooks into memory (at start-up, and after an overflow has drained).</summary>
    private async Task LoadPendingAsync(CancellationToken stoppingToken)
    {
        // Cleared first: what the recorder hands over from now on is kept, and the read below finds the rest.
        _overflowed = false;
        while (true)
        {
            try
            {
                var pending = await _store.PendingWebhooksAsync(_options.MaxInMemory);
                foreach (var (delivery, next) in pending)
                {
                    Add(delivery, next);
                }
                _overflowed |= pending.Count == _options.MaxInMemory;
                return;
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                _logger.LogError(ex, "Could not read the webhook outbox; trying again in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), _time, stoppingToken);
            }
        }
    }

    private void Apply(Signal signal)
    {
        if (signal.Written is { } written)
        {
            foreach (var delivery in written)
            {
                Add(delivery, DateTimeOffset.FromUnixTimeMilliseconds(delivery.CreatedAtMs));
            }
            return;
        }
        var (callId, retryAt) = signal.Finished!.Value;
        _inFlight.Remove(callId);
        var queue = _queues[callId];
        if (retryAt is { } at)
        {
            var head = queue.Peek();
            head.Delivery = head.Delivery with { Attempts = head.Delivery.Attempts + 1 };
            Schedule(callId, at);
            return;
        }
        _known.Remove(queue.Dequeue().Delivery.Id);
        if (queue.Count == 0)
        {
            _queues.Remove(callId);
            return;
        }
        Schedule(callId, DateTimeOffset.FromUnixTimeMilliseconds(queue.Peek().Delivery.CreatedAtMs));
    }

    /// <summary>Adds a pending webhook behind its call's earlier ones (once: a re-read of the outbox may find it again).</summary>
    private void Add(WebhookDelivery delivery, DateTimeOffset due)
    {
        if (_known.Contains(delivery.Id))
        {
            return;
        }
        if (_known.Count >= _options.MaxInMemory)
        {
            _overflowed = true; // it is in the outbox; read back once memory has room
            return;
        }
        _known.Add(delivery.Id);
        if (!_queues.TryGetValue(delivery.CallId, out var queue))
        {
            _queues[delivery.CallId] = queue = new Queue<Outgoing>();
        }
        queue.Enqueue(new Outgoing(delivery));
        if (queue.Count == 1)
        {
            Schedule(delivery.CallId, due);
        }
    }

    private void Schedule(string callId, DateTimeOffset at)
    {
        _dueAt[callId] = at;
        _due.Enqueue(callId, at);
    }

    /// <summary>Starts the head webhook of every call that is due, as far as the concurrency allows.</summary>
    private void StartDue(CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow();
        while (_inFlight.Count < _options.Concurrency && _due.TryPeek(out var callId, out var at) && at <= now)
        {
            _due.Dequeue();
            // Entries superseded by a later schedule of the same call are skipped.
            if (!_dueAt.TryGetValue(callId, out var current) || current != at || _inFlight.Contains(callId) || !_queues.TryGetValue(callId, out var queue))
            {
                continue;
            }
            _dueAt.Remove(callId);
            _inFlight.Add(callId);
            _deliveries.Add(DeliverAsync(queue.Peek().Delivery, stoppingToken));
        }
        _deliveries.RemoveAll(d => d.IsCompleted);
    }

    /// <summary>Until something changes: a webhook written or finished, or the next retry due (no timer without one).</summary>
    private async Task WaitAsync(CancellationToken stoppingToken)
    {
        var wake = _signals.Reader.WaitToReadAsync(stoppingToken).AsTask();
        if (_inFlight.Count < _options.Concurrency && _due.TryPeek(out _, out var next))
        {
            var delay = next - _time.GetUtcNow();
            if (delay <= TimeSpan.Zero)
            {
                return;
            }
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            await Task.WhenAny(wake, Task.Delay(delay, _time, timer.Token));
            await timer.CancelAsync();
        }
        else
        {
            await wake;
        }
    }

    /// <summary>
    /// Writes attempt outcomes in batches, one transaction each. A delivery counts as finished (and its call's next
    /// event may go) only once its outcome is written, so an event is never sent twice for want of a write.
    /// </summary>
    private async Task WriteOutcomesAsync()
    {
        var batch = new List<(WebhookAttempt Attempt, TaskCompletionSource Written)>(64);
        await foreach (var first in _outcomes.Reader.ReadAllAsync())
        {
            batch.Add(first);
            while (batch.Count < CallRecorder.MaxBatch && _outcomes.Reader.TryRead(out var more))
            {
                batch.Add(more);
            }
            try
            {
                await _store.WebhookAttemptsAsync([.. batch.Select(b => b.Attempt)]);
            }
            catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
            {
                // The outcomes are lost, not the webhooks: they stay pending and are sent again.
                _logger.LogError(ex, "Could not record {Count} webhook deliveries", batch.Count);
            }
            foreach (var (_, written) in batch)
            {
                written.TrySetResult();
            }
            batch.Clear();
        }
    }

    private async Task DeliverAsync(WebhookDelivery delivery, CancellationToken stoppingToken)
    {
        int? status = null;
        string? error = null;
        TimeSpan? retryAfter = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
            {
                Content = new StringContent(delivery.Body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add(WebhookSignature.Header, WebhookSignature.Sign(_options.Secret, _time.GetUtcNow().ToUnixTimeSeconds(), delivery.Body));
            request.Headers.Add("X-VoiceBridge-Event", delivery.Event);
            request.Headers.Add("X-VoiceBridge-Delivery", $"{delivery.CallId}:{delivery.Sequence}");
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            attempt.CancelAfter(_options.Timeout);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            status = (int)response.StatusCode;
            retryAfter = response.Headers.RetryAfter?.Delta;
            if (!response.IsSuccessStatusCode)
            {
                error = $"the receiver answered {status} {response.ReasonPhrase}";
            }
        }
        catch (HttpRequestException ex)
        {
            error = ex.Message;
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            error = $"no answer within {_options.Timeout.TotalSeconds:0.#} s";
        }
        catch (OperationCanceledException)
        {
            return; // stopping: the webhook stays pending and the next start sends it
        }
        catch (Exception ex) when (ex is InvalidOperationException or UriFormatException or NotSupportedException)
        {
            error = "the request could not be sent: " + ex.Message;
        }
        await RecordAsync(delivery, status, error, retryAfter);
    }

    /// <summary>Writes the attempt's outcome, then tells the loop: the call's next webhook may go, or this one is tried again at its time.</summary>
    private async Task RecordAsync(WebhookDelivery delivery, int? status, string? error, TimeSpan? retryAfter)
    {
        var retryAt = await OutcomeAsync(delivery, status, error, retryAfter);
        _signals.Writer.TryWrite(new Signal(null, (delivery.CallId, retryAt)));
    }

    private async Task<DateTimeOffset?> OutcomeAsync(WebhookDelivery delivery, int? status, string? error, TimeSpan? retryAfter)
    {
        var now = _time.GetUtcNow();
        if (error is null)
        {
            await WrittenAsync(new WebhookAttempt(delivery.Id, "delivered", status, null, now, null));
            HostMeter.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", "delivered"));
            return null;
        }
        var transient = status is null or (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests or >= 500;
        var age = now - DateTimeOffset.FromUnixTimeMilliseconds(delivery.CreatedAtMs);
        if (transient && age < _options.GiveUpAfter)
        {
            var retryAt = now + Backoff(delivery.Attempts + 1, retryAfter);
            await WrittenAsync(new WebhookAttempt(delivery.Id, "pending", status, error, now, retryAt));
            HostMeter.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", "retry"));
            _logger.LogWarning("Webhook {Event} of call {CallId} to {Url} failed ({Error}); attempt {Attempt}, retrying at {RetryAt:O}",
                delivery.Event, delivery.CallId, delivery.Url, error, delivery.Attempts + 1, retryAt);
            return retryAt;
        }
        await WrittenAsync(new WebhookAttempt(delivery.Id, "failed", status, error, now, null));
        HostMeter.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", "failed"));
        _logger.LogError("Webhook {Event} of call {CallId} to {Url} given up after {Attempts} attempts: {Error}",
            delivery.Event, delivery.CallId, delivery.Url, delivery.Attempts + 1, error);
        return null;
    }

    private Task WrittenAsync(WebhookAttempt attempt)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outcomes.Writer.TryWrite((attempt, written));
        return written.Task;
    }

    /// <summary>Initial × 2^(attempt−1), capped, with ±20 % jitter so receivers coming back are not hit in step; at least a Retry-After.</summary>
    private TimeSpan Backoff(long attempts, TimeSpan? retryAfter)
    {
        var exponential = _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempts - 1, 30));
        var capped = Math.Min(exponential, _options.MaxBackoff.TotalMilliseconds);
        var jittered = TimeSpan.FromMilliseconds(capped * (0.8 + (Random.Shared.NextDouble() * 0.4)));
        return retryAfter is { } asked && asked > jittered ? (asked < _options.MaxBackoff ? asked : _options.MaxBackoff) : jittered;
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    /// <summary>A pending webhook in its call's queue; its attempt count goes up with each retry.</summary>
    private sealed class Outgoing(WebhookDelivery delivery)
    {
        public WebhookDelivery Delivery { get; set; } = delivery;
    }

    /// <summary>What wakes the loop: webhooks written, or one call's delivery finished (with its retry time, if any).</summary>
    private readonly record struct Signal(IReadOnlyList<WebhookDelivery>? Written, (string CallId, DateTimeOffset? RetryAt)? Finished);
}
