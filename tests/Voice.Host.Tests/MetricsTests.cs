using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Voice.Control.Diagnostics;
using Voice.Control.Tts;

namespace Voice.Host.Tests;

/// <summary>/metrics as Prometheus reads it: calls by state and reason, latencies, cache hits, webhooks and links.</summary>
public class MetricsTests
{
    [Test]
    public async Task A_scrape_counts_the_calls_their_latencies_the_webhooks_and_the_speech_cache()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(new() { ["WEBHOOK_SECRET"] = "metrics-secret" });
        using var client = factory.CreateClient();
        foreach (var to in new[] { "+15005550000", "+15005550001" })
        {
            var response = await client.PostAsync("/api/outbound-call", new StringContent(
                $$"""{"to":"{{to}}","message":"Metrics.","webhookUrl":"{{receiver.Url}}","webhookEvents":["completed","failed"]}""", Encoding.UTF8, "application/json"));
            await HostFactory.WaitForEndAsync(client, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!);
        }
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 2);
        // The speech cache in this process: one miss, then one hit.
        var cache = new SpeechCache(new SpeechCacheOptions { Directory = Path.Combine(factory.DataDirectory, "cache-test") }, meter: factory.Services.GetRequiredService<VoiceMeter>());
        Assert.That(cache.TryGet("absent"), Is.Null);
        await cache.StoreWavAsync("present", new byte[320], 16000, CancellationToken.None);
        Assert.That(cache.TryGet("present"), Is.Not.Null);

        using var anonymous = factory.CreateClient();
        anonymous.DefaultRequestHeaders.Remove("X-API-Key");
        var scrape = string.Empty;
        // The sender counts a delivery when it has read the receiver's answer, a moment after the receiver has it.
        await HostFactory.Eventually(async () =>
        {
            using var response2 = await anonymous.GetAsync("/metrics");
            Assert.That(response2.StatusCode, Is.EqualTo(HttpStatusCode.OK), "Prometheus scrapes without a key");
            Assert.That(response2.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/plain"));
            Assert.That(response2.Content.Headers.ContentType.Parameters.Select(p => p.ToString()), Does.Contain("version=0.0.4"), "the text format Prometheus reads");
            scrape = await response2.Content.ReadAsStringAsync();
            return scrape.Contains("voicebridge_webhook_attempts_total{result=\"delivered\"} 2\n", StringComparison.Ordinal);
        }, "both deliveries counted");

        foreach (var line in scrape.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
        {
            Assert.That(Scrape.SampleLine().IsMatch(line), $"not a Prometheus sample line: {line}");
        }
        Assert.That(Scrape.Value(scrape, "voicebridge_calls_ended_total", ("state", "completed"), ("reason", "announce_complete")), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_calls_ended_total", ("state", "failed"), ("reason", "busy")), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_call_state_changes_total", ("state", "playing")), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_calls_active"), Is.Zero);
        Assert.That(Scrape.Value(scrape, "voicebridge_call_answer_to_audio_seconds_count"), Is.EqualTo(1), "one call was answered");
        Assert.That(Scrape.Value(scrape, "voicebridge_call_answer_to_audio_seconds_bucket", ("le", "+Inf")), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_call_dial_latency_seconds_count"), Is.EqualTo(2), "both calls dialled");
        Assert.That(Scrape.Value(scrape, "voicebridge_webhook_attempts_total", ("result", "delivered")), Is.EqualTo(2));
        Assert.That(Scrape.Value(scrape, "voicebridge_tts_cache_lookups_total", ("result", "hit")), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_tts_cache_lookups_total", ("result", "miss")), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_simulated"), Is.EqualTo(1));
        Assert.That(Scrape.Value(scrape, "voicebridge_calls_by_state", ("state", "playing")), Is.Zero);
        Assert.That(Scrape.Value(scrape, "voicebridge_call_state_changes_total", ("state", "queued")), Is.EqualTo(2));
        Assert.That(scrape, Does.Contain("# TYPE voicebridge_call_answer_to_audio_seconds histogram"));

        // Buckets are cumulative: never decreasing.
        var buckets = scrape.Split('\n').Where(l => l.StartsWith("voicebridge_call_dial_latency_seconds_bucket", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(buckets, Is.Ordered.Ascending);
        var bounds = scrape.Split('\n').Where(l => l.StartsWith("voicebridge_call_dial_latency_seconds_bucket", StringComparison.Ordinal))
            .Select(l => Scrape.Label().Match(l).Groups[2].Value);
        Assert.That(bounds, Is.EqualTo(new[] { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf" }),
            "the buckets dashboards were built on: fine below 10 ms");
        Assert.That(buckets[^1], Is.EqualTo(2));
    }

    [Test]
    public async Task Two_hosts_in_one_process_count_their_own_calls()
    {
        await using var busy = new HostFactory();
        await using var quiet = new HostFactory();
        using var busyClient = busy.CreateClient();
        using var quietClient = quiet.CreateClient();
        _ = await quietClient.GetStringAsync("/metrics"); // both collecting before the call
        var response = await busyClient.PostAsync("/api/outbound-call", new StringContent("""{"to":"+15005550000","message":"Metrics."}""", Encoding.UTF8, "application/json"));
        await HostFactory.WaitForEndAsync(busyClient, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!);

        var busyScrape = await busyClient.GetStringAsync("/metrics");
        var quietScrape = await quietClient.GetStringAsync("/metrics");
        Assert.That(Scrape.Value(busyScrape, "voicebridge_call_dial_latency_seconds_count"), Is.EqualTo(1));
        Assert.That(quietScrape, Does.Not.Contain("voicebridge_call_dial_latency_seconds_count"), "the other host's call is not counted here");
        Assert.That(quietScrape, Does.Not.Contain("voicebridge_calls_ended_total{"));
        Assert.That(Scrape.Value(quietScrape, "voicebridge_simulated"), Is.EqualTo(1), "its own gauges are there");
    }
}
