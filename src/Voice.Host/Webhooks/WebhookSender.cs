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
internal sealed class WebhookSender : BackgroundService
{
    private readonly SqliteCallStore _store;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookSender> _logger;
    private readonly HttpClient _http;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<(WebhookAttempt Attempt, TaskCompletionSource Written)> _outcomes =
        Channel.CreateUnbounded<(WebhookAttempt, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    private static readonly TimeSpan LookInterval = TimeSpan.FromMilliseconds(10);

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
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("VoiceBridge-Webhooks/1.0");
    }

    /// <summary>New webhooks are in the outbox: look now rather than at the next poll.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _logger.LogInformation("Webhooks are signed (X-VoiceBridge-Signature) with the secret from {Source}", _options.SecretSource);
        var inFlight = new Dictionary<string, Task>();
        var writer = WriteOutcomesAsync();
        Task? wake = null;
        var lastLook = -LookInterval;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // Under load, deliveries finish many times a millisecond: look at the outbox at most every 10 ms.
                if (clock.Elapsed - lastLook is var since && since < LookInterval)
                {
                    await Task.Delay(LookInterval - since, _time, stoppingToken);
                }
                lastLook = clock.Elapsed;
                var free = _options.Concurrency - inFlight.Count;
                IReadOnlyList<WebhookDelivery> due;
                try
                {
                    due = free > 0 ? await _store.DueWebhooksAsync(_time.GetUtcNow(), free, inFlight.Keys) : [];
                }
                catch (Microsoft.Data.Sqlite.SqliteException ex)
                {
                    _logger.LogError(ex, "Could not read the webhook outbox; trying again in 5 s");
                    await Task.Delay(TimeSpan.FromSeconds(5), _time, stoppingToken);
                    continue;
                }
                foreach (var delivery in due)
                {
                    inFlight[delivery.CallId] = DeliverAsync(delivery, stoppingToken);
                }
                // Wait for a delivery to finish (its call's next event may be due), new events, or the next retry.
                wake ??= _wake.Reader.WaitToReadAsync(stoppingToken).AsTask();
                var waitFor = new List<Task>(inFlight.Values) { wake };
                if (inFlight.Count < _options.Concurrency)
                {
                    // With every slot busy only a finished delivery can let more out; otherwise sleep until the next one is due.
                    var delay = await NextWaitAsync(inFlight.Keys);
                    waitFor.Add(delay > TimeSpan.Zero ? Task.Delay(delay, _time, stoppingToken) : Task.CompletedTask);
                }
                await Task.WhenAny(waitFor);
                if (wake.IsCompleted)
                {
                    _wake.Reader.TryRead(out _);
                    wake = null;
                }
                foreach (var (callId, task) in inFlight.Where(p => p.Value.IsCompleted).ToList())
                {
                    inFlight.Remove(callId);
                    await task;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await Task.WhenAll(inFlight.Values);
        _outcomes.Writer.TryComplete();
        await writer;
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

    /// <summary>How long to sleep when nothing else wakes the loop: until the next retry of a call not in flight, polling at least every 5 s.</summary>
    private async Task<TimeSpan> NextWaitAsync(IReadOnlyCollection<string> inFlight)
    {
        var next = await _store.NextWebhookDueAsync(inFlight);
        var wait = next is { } at ? at - _time.GetUtcNow() : TimeSpan.FromSeconds(5);
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : wait;
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
        await RecordAsync(delivery, status, error, retryAfter);
    }

    private async Task RecordAsync(WebhookDelivery delivery, int? status, string? error, TimeSpan? retryAfter)
    {
        var now = _time.GetUtcNow();
        if (error is null)
        {
            await WrittenAsync(new WebhookAttempt(delivery.Id, "delivered", status, null, now, null));
            HostMeter.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", "delivered"));
            return;
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
            return;
        }
        await WrittenAsync(new WebhookAttempt(delivery.Id, "failed", status, error, now, null));
        HostMeter.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", "failed"));
        _logger.LogError("Webhook {Event} of call {CallId} to {Url} given up after {Attempts} attempts: {Error}",
            delivery.Event, delivery.CallId, delivery.Url, delivery.Attempts + 1, error);
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
}
