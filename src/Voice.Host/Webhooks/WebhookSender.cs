using Voice.Control.Net;
using System.Diagnostics;
using System.Net;
using System.Text;
using Voice.Host.Observability;
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
/// pending than <see cref="WebhookOptions.MaxInMemory"/> and the excess was left to the database. Nothing runs
/// in between: a webhook goes out from the thread that wrote it, and the next one of its call from the thread
/// that read the answer to the one before. Outcomes ride along with the recorder's next transaction, or get one of
/// their own on the store's write thread (<see cref="IWebhookOutbox.QueueAttempt"/>); a timer is set only for a retry.
/// A quiet host does no work at all.
/// </remarks>
internal sealed class WebhookSender : BackgroundService
{
    private readonly IWebhookOutbox _store;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookSender> _logger;
    private readonly HttpClient _http;
    private readonly HostMeter? _meter;

    private readonly Lock _lock = new();
    private readonly WebhookSchedule _schedule;
    private readonly List<Task> _deliveries = [];
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _retryTimer;
    private bool _started;
    private int _reloading;
    private int _starting;
    private int _startAgain;

    public WebhookSender(IWebhookOutbox store, WebhookOptions options, TimeProvider time, ILogger<WebhookSender> logger, HostMeter? meter = null, HttpMessageHandler? handler = null)
    {
        _meter = meter;
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _schedule = new WebhookSchedule(options.MaxInMemory);
        _store.AttemptsNotWritten += error => _logger.LogError(error, "Could not record webhook deliveries; trying again with the next write");
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = options.Timeout,
            AllowAutoRedirect = false,
            ConnectCallback = options.Destinations.ConnectAsync,
            // The delivery's span is put in the request's traceparent here (DeliverAsync): without a propagator the client
            // adds no diagnostics handler, which made a span of its own for every request (1 % of the host's CPU per call).
            ActivityHeadersPropagator = null,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Webhooks the recorder has just written to the outbox, in order; they go out as soon as their call's earlier ones have.</summary>
    public void Enqueue(IReadOnlyList<WebhookDelivery> written)
    {
        lock (_lock)
        {
            foreach (var delivery in written)
            {
                _schedule.Add(delivery, DateTimeOffset.FromUnixTimeMilliseconds(delivery.CreatedAtMs));
            }
        }
        StartDue();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _logger.LogInformation("Webhooks are signed (X-VoiceBridge-Signature) with the secret from {Source}", _options.SecretSource);
        using (stoppingToken.Register(() => _stopping.Cancel()))
        {
            await LoadPendingAsync();
            lock (_lock)
            {
                _started = true;
            }
            StartDue();
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        Task[] running;
        lock (_lock)
        {
            _retryTimer?.Dispose();
            running = [.. _deliveries];
        }
        await Task.WhenAll(running);
        await FlushAsync();
    }

    /// <summary>The outbox's pending webhooks into the schedule (at start-up, and after an overflow has drained).</summary>
    private async Task LoadPendingAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                // Cleared first: what the recorder hands over from now on is kept, and the read below finds the rest.
                lock (_lock)
                {
                    _schedule.Overflowed = false;
                }
                var pending = await _store.PendingWebhooksAsync(_options.MaxInMemory);
                lock (_lock)
                {
                    foreach (var (delivery, next) in pending)
                    {
                        _schedule.Add(delivery, next);
                    }
                    _schedule.Overflowed |= pending.Count == _options.MaxInMemory;
                }
                return;
            }
            catch (System.Data.Common.DbException ex)
            {
                _logger.LogError(ex, "Could not read the webhook outbox; trying again in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), _time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Starts every webhook that is due, as far as the concurrency allows, and sets the timer for the next retry.
    /// One thread at a time: a delivery that finishes at once (a refused address) asks again, and the thread
    /// already starting looks again instead of going deeper.
    /// </summary>
    private void StartDue()
    {
        Volatile.Write(ref _startAgain, 1);
        while (Volatile.Read(ref _startAgain) == 1 && Interlocked.CompareExchange(ref _starting, 1, 0) == 0)
        {
            try
            {
                while (Interlocked.Exchange(ref _startAgain, 0) == 1)
                {
                    StartDueOnce();
                }
            }
            finally
            {
                Volatile.Write(ref _starting, 0);
            }
        }
    }

    private void StartDueOnce()
    {
        List<WebhookDelivery> due;
        var reload = false;
        lock (_lock)
        {
            if (!_started || _stopping.IsCancellationRequested)
            {
                return;
            }
            due = _schedule.TakeDue(_time.GetUtcNow(), _options.Concurrency);
            _deliveries.RemoveAll(d => d.IsCompleted);
            foreach (var delivery in due)
            {
                _deliveries.Add(DeliverAsync(delivery));
            }
            if (_schedule.InFlight < _options.Concurrency && _schedule.NextDue is { } next)
            {
                var wait = next - _time.GetUtcNow();
                _retryTimer ??= Timer(StartDue);
                _retryTimer.Change(wait > TimeSpan.Zero ? wait : TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
            }
            reload = _schedule.IsEmpty && _schedule.Overflowed && Interlocked.Exchange(ref _reloading, 1) == 0;
        }
        if (reload)
        {
            _ = ReloadAsync();
        }
    }

    private async Task ReloadAsync()
    {
        try
        {
            await LoadPendingAsync();
        }
        finally
        {
            Volatile.Write(ref _reloading, 0);
        }
        StartDue();
    }

    /// <summary>Writes the outcomes still queued at stop; when that fails, the webhooks stay pending and the next start sends them again.</summary>
    private async Task FlushAsync()
    {
        try
        {
            await _store.FlushAttemptsAsync();
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException)
        {
            _logger.LogError(ex, "Could not record webhook deliveries");
        }
    }

    private async Task DeliverAsync(WebhookDelivery delivery)
    {
        // A span in the call's trace, whatever this thread was doing; the HTTP request below carries it to the
        // receiver in a traceparent header.
        Activity.Current = null;
        using var span = ActivityContext.TryParse(delivery.TraceParent, null, out var call)
            ? HostActivities.Source.StartActivity("webhook.deliver", ActivityKind.Internal, call)
            : HostActivities.Source.StartActivity("webhook.deliver");
        span?.SetTag("voicebridge.call.id", delivery.CallId).SetTag("voicebridge.webhook.event", delivery.Event)
            .SetTag("voicebridge.webhook.sequence", delivery.Sequence).SetTag("voicebridge.webhook.attempt", delivery.Attempts + 1);
        var stoppingToken = _stopping.Token;
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
            if ((span?.Id ?? delivery.TraceParent) is { } traceParent)
            {
                request.Headers.TryAddWithoutValidation("traceparent", traceParent);
            }
            if (span?.TraceStateString is { } traceState)
            {
                request.Headers.TryAddWithoutValidation("tracestate", traceState);
            }
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
        catch (HttpRequestException ex) when (ex.InnerException is WebhookDestinationException refused)
        {
            // Not a receiver that is down: the address is one webhooks never go to. Asking again changes nothing.
            Record(delivery, span, null, refused.Message, null, final: true);
            return;
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
        Record(delivery, span, status, error, retryAfter);
    }

    /// <summary>Queues the attempt's outcome for writing and moves the call on: its next webhook, or this one again at the retry time.</summary>
    private void Record(WebhookDelivery delivery, Activity? span, int? status, string? error, TimeSpan? retryAfter, bool final = false)
    {
        var now = _time.GetUtcNow();
        if (span is not null)
        {
            if (status is { } code)
            {
                span.SetTag("http.response.status_code", code);
            }
            span.SetStatus(error is null ? ActivityStatusCode.Ok : ActivityStatusCode.Error, error);
        }
        WebhookAttempt attempt;
        string result;
        DateTimeOffset? retryAt = null;
        if (error is null)
        {
            attempt = new WebhookAttempt(delivery.Id, "delivered", status, null, now, null);
            result = "delivered";
        }
        else if (!final && IsTransient(status) && now - DateTimeOffset.FromUnixTimeMilliseconds(delivery.CreatedAtMs) < _options.GiveUpAfter)
        {
            retryAt = now + Backoff(delivery.Attempts + 1, retryAfter);
            attempt = new WebhookAttempt(delivery.Id, "pending", status, error, now, retryAt);
            result = "retry";
            _logger.LogWarning("Webhook {Event} of call {CallId} to {Url} failed ({Error}); attempt {Attempt}, retrying at {RetryAt:O}",
                delivery.Event, delivery.CallId, delivery.Url, error, delivery.Attempts + 1, retryAt);
        }
        else
        {
            attempt = new WebhookAttempt(delivery.Id, "failed", status, error, now, null);
            result = "failed";
            _logger.LogError("Webhook {Event} of call {CallId} to {Url} given up after {Attempts} attempts: {Error}",
                delivery.Event, delivery.CallId, delivery.Url, delivery.Attempts + 1, error);
        }
        _meter?.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("result", result));
        span?.SetTag("voicebridge.webhook.result", result);
        _store.QueueAttempt(delivery.CallId, attempt);
        lock (_lock)
        {
            _schedule.Finish(delivery.CallId, retryAt);
        }
        StartDue();
    }

    /// <summary>
    /// A timer, not yet set, that runs in no one's context: not in the trace (nor the log scope) of the delivery that
    /// happened to create it.
    /// </summary>
    private ITimer Timer(Action callback)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return _time.CreateTimer(_ => callback(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Worth another attempt: no answer at all, 408, 429 or a server error.</summary>
    private static bool IsTransient(int? status) => status is null or (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests or >= 500;

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
        _stopping.Dispose();
        base.Dispose();
    }
}
