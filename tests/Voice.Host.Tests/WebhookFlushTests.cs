using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Host.Storage;
using Voice.Host.Webhooks;

namespace Voice.Host.Tests;

/// <summary>
/// When a delivery's outcome is written: with the next transaction, or in one of its own once it has waited
/// <see cref="WebhookSender.FlushDelay"/> for one.
/// </summary>
public class WebhookFlushTests
{
    [Test]
    public async Task An_outcome_gets_a_commit_of_its_own_only_once_it_has_waited_the_whole_delay()
    {
        var time = new SteppedTime();
        var outbox = new QueuedOutcomes();
        using var sender = new WebhookSender(outbox, new WebhookOptions { Secret = [1, 2, 3] }, time, NullLogger<WebhookSender>.Instance,
            handler: new Answers(HttpStatusCode.OK));
        await sender.StartAsync(CancellationToken.None);
        var start = time.GetUtcNow();

        sender.Enqueue([Delivery(1, start)]);
        await HostFactory.Eventually(async () => outbox.Queued == 1, "delivered once the sender has started, and its outcome queued");
        Assert.That(time.Timers.SingleOrDefault()?.Due, Is.EqualTo(WebhookSender.FlushDelay), "the flush timer is set");

        time.Now = start.AddMilliseconds(100);
        outbox.TakenByTransaction();
        time.Now = start.AddMilliseconds(200);
        sender.Enqueue([Delivery(2, time.Now)]);
        await HostFactory.Eventually(async () => outbox.Queued == 1, "the second delivery's outcome queued");
        time.Now = start + WebhookSender.FlushDelay;
        time.Timers.Single().Fire();
        Assert.That((outbox.Flushes, outbox.Queued, time.Timers.Single().Due), Is.EqualTo((0, 1, TimeSpan.FromMilliseconds(200))),
            "the outcome left is 50 ms old: it waits out the rest of its delay, for the next transaction to take it");

        time.Now = start.AddMilliseconds(200) + WebhookSender.FlushDelay;
        time.Timers.Single().Fire();
        await HostFactory.Eventually(async () => outbox.Flushes == 1, "written in a commit of its own once it has waited the whole delay");
        await sender.StopAsync(CancellationToken.None);
    }

    private static WebhookDelivery Delivery(long id, DateTimeOffset created) => new()
    {
        Id = id, CallId = $"call-{id}", Sequence = 1, Event = "queued", Url = "http://127.0.0.1:9/hook", Body = "{}", CreatedAtMs = created.ToUnixTimeMilliseconds(),
    };

    /// <summary>The outbox's queue of outcomes, as the store keeps it until a transaction writes it.</summary>
    private sealed class QueuedOutcomes : IWebhookOutbox
    {
        private readonly Lock _lock = new();
        private readonly List<WebhookAttempt> _attempts = [];
        private int _flushes;

        public int Queued
        {
            get
            {
                lock (_lock)
                {
                    return _attempts.Count;
                }
            }
        }

        public int Flushes => Volatile.Read(ref _flushes);

        public DateTimeOffset? OldestQueuedAttempt
        {
            get
            {
                lock (_lock)
                {
                    return _attempts.Count == 0 ? null : _attempts[0].At;
                }
            }
        }

        public void TakenByTransaction()
        {
            lock (_lock)
            {
                _attempts.Clear();
            }
        }

        public Task<IReadOnlyList<(WebhookDelivery Delivery, DateTimeOffset NextAttemptAt)>> PendingWebhooksAsync(int limit) =>
            Task.FromResult<IReadOnlyList<(WebhookDelivery, DateTimeOffset)>>([]);

        public void QueueAttempt(string callId, WebhookAttempt attempt)
        {
            lock (_lock)
            {
                _attempts.Add(attempt);
            }
        }

        public Task FlushAttemptsAsync()
        {
            lock (_lock)
            {
                if (_attempts.Count > 0)
                {
                    _attempts.Clear();
                    _flushes++;
                }
            }
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<WebhookState>> WebhooksAsync(string callId) => throw new NotSupportedException();
    }

    private sealed class Answers(HttpStatusCode status) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status));
    }
}
