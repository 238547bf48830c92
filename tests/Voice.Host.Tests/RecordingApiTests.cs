using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>Recorded calls through the API on the simulated backend: the view, the download, FreeSWITCH's upload, and retention.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class RecordingApiTests(Engine engine)
{
    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    private static async Task<(string CallId, JsonElement Call)> RecordedCallAsync(HttpClient client)
    {
        var callId = await HostFactory.PlaceAsync(client, """{"to":"+15005550000","message":"Disk full on db-01.","record":true}""");
        await HostFactory.WaitForEndAsync(client, callId);
        // The recording's state is final once the stored call has it: poll the view until the file is known.
        JsonElement call = default;
        await HostFactory.Eventually(async () =>
        {
            call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
            return call.TryGetProperty("recordings", out var recordings) && recordings[0].GetProperty("status").GetString() == "recorded";
        }, "the call reports its recording");
        return (callId, call);
    }

    private static HttpClient Anonymous(HostFactory factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Remove("X-API-Key");
        return client;
    }

    /// <summary>The file of the call's first recording, as stored: the API never shows it (it is the secret part of the upload URL).</summary>
    private static async Task<string> RecordingFileAsync(HostFactory factory, string callId)
    {
        await factory.Services.GetRequiredService<CallRecorder>().WrittenAsync();
        var stored = await factory.Services.GetRequiredService<ICallStore>().GetAsync(callId);
        return RecordingFiles.Of(stored!.ResultsJson)[0].File!;
    }

    [Test]
    public async Task A_recorded_call_shows_its_recording_and_serves_it_as_WAV_with_ranges()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var (callId, call) = await RecordedCallAsync(client);

        var recording = call.GetProperty("recordings")[0];
        Assert.That(recording.GetProperty("part").GetInt32(), Is.EqualTo(1));
        Assert.That(recording.GetProperty("mixType").GetString(), Is.EqualTo("stereo"));
        Assert.That(recording.GetProperty("available").GetBoolean(), Is.True);
        Assert.That(recording.GetProperty("durationMs").GetInt32(), Is.GreaterThan(500), "the simulated recording lasts as long as the call did");
        var url = recording.GetProperty("url").GetString();
        Assert.That(url, Is.EqualTo($"/api/call/{callId}/recording?part=1"));

        var whole = await client.GetAsync(url);
        Assert.That(whole.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(whole.Content.Headers.ContentType!.MediaType, Is.EqualTo("audio/wav"));
        var bytes = await whole.Content.ReadAsByteArrayAsync();
        Assert.That(bytes.Length, Is.EqualTo(recording.GetProperty("bytes").GetInt64()));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 0, 4), Is.EqualTo("RIFF"));
        Assert.That(whole.Headers.AcceptRanges, Does.Contain("bytes"), "a browser's player can seek");

        using var range = new HttpRequestMessage(HttpMethod.Get, $"/api/call/{callId}/recording");
        range.Headers.Range = new RangeHeaderValue(100, 199);
        var part = await client.SendAsync(range);
        Assert.That(part.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
        Assert.That(await part.Content.ReadAsByteArrayAsync(), Is.EqualTo(bytes[100..200]));

        using var anonymous = Anonymous(factory);
        Assert.That((await anonymous.GetAsync(url)).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "recordings need the API key");
    }

    [Test]
    public async Task Asking_for_a_recording_that_is_not_there_says_why()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var plain = await HostFactory.PlaceAsync(client, """{"to":"+15005550000","message":"Not recorded."}""");
        await HostFactory.WaitForEndAsync(client, plain);
        var (recorded, _) = await RecordedCallAsync(client);

        async Task<(HttpStatusCode, string?)> Get(string url)
        {
            var response = await client.GetAsync(url);
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        }

        Assert.That(await Get($"/api/call/{plain}/recording"), Is.EqualTo((HttpStatusCode.NotFound, "no_recording")));
        Assert.That(await Get($"/api/call/{recorded}/recording?part=2"), Is.EqualTo((HttpStatusCode.NotFound, "no_recording")));
        Assert.That(await Get("/api/call/no-such-call/recording"), Is.EqualTo((HttpStatusCode.NotFound, "not_found")));
        var plainView = await client.GetFromJsonAsync<JsonElement>($"/api/call/{plain}");
        Assert.That(plainView.TryGetProperty("recordings", out _), Is.False, "a call that did not record shows no recordings");
    }

    [Test]
    public async Task FreeSWITCHs_upload_is_taken_once_for_a_recording_a_call_reported_and_only_as_WAV_within_the_cap()
    {
        await using var factory = new HostFactory(new()
        {
            ["RECORDINGS_FREESWITCH_TARGET"] = "http://voicebridge.test/fs/recordings/",
            ["Recordings:MaxSeconds"] = "10",
        }, engine: engine);
        using var client = factory.CreateClient();
        var (callId, call) = await RecordedCallAsync(client);
        var name = await RecordingFileAsync(factory, callId);
        Assert.That(call.GetProperty("results").GetProperty("recordings")[0].TryGetProperty("file", out _), Is.False, "the upload URL's secret is not shown");
        var path = Path.Combine(factory.DataDirectory, "recordings", name);
        // The simulation writes its file directly; take it away, as if FreeSWITCH had not uploaded it yet.
        var wav = await File.ReadAllBytesAsync(path);
        File.Delete(path);
        var waiting = (await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).GetProperty("recordings")[0];
        Assert.That((waiting.GetProperty("available").GetBoolean(), waiting.GetProperty("url").ValueKind), Is.EqualTo((false, JsonValueKind.Null)));
        Assert.That((await client.GetAsync($"/api/call/{callId}/recording")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));

        // FreeSWITCH sends no API key; mod_httapi sends the file chunked.
        using var freeSwitch = Anonymous(factory);
        async Task<(HttpStatusCode, string?)> Put(string file, HttpContent content)
        {
            var response = await freeSwitch.PutAsync($"/fs/recordings/{file}?session_id=x&file_driver=true", content);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
        }
        static HttpContent Chunked(byte[] body) => new StreamContent(new MemoryStream(body));

        Assert.That(await Put(name, Chunked("not a wav file at all, just text"u8.ToArray())), Is.EqualTo((HttpStatusCode.UnsupportedMediaType, "not_wav")));
        Assert.That(await Put(name, new ByteArrayContent(new byte[10 * 64_000 + 5000])), Is.EqualTo((HttpStatusCode.RequestEntityTooLarge, "recording_too_large")));
        Assert.That(await Put(name, Chunked(new byte[10 * 64_000 + 5000])), Is.EqualTo((HttpStatusCode.RequestEntityTooLarge, "recording_too_large")), "without a length too");
        Assert.That(await Put(name.Replace(callId, Guid.NewGuid().ToString(), StringComparison.Ordinal), Chunked(wav)), Is.EqualTo((HttpStatusCode.NotFound, "unknown_recording")));
        Assert.That(await Put(name[..^10] + "0000000.wav", Chunked(wav)), Is.EqualTo((HttpStatusCode.NotFound, "unknown_recording")), "a name the call did not report");
        Assert.That(File.Exists(path), Is.False);
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(path)!), Is.Empty, "nothing half-written left behind");

        Assert.That(await Put(name, Chunked(wav)), Is.EqualTo((HttpStatusCode.Created, (string?)null)));
        Assert.That(await Put(name, Chunked(wav)), Is.EqualTo((HttpStatusCode.Conflict, "recording_exists")), "never overwritten");
        Assert.That(await client.GetByteArrayAsync($"/api/call/{callId}/recording"), Is.EqualTo(wav));
        var received = (await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).GetProperty("recordings")[0];
        Assert.That(received.GetProperty("available").GetBoolean(), Is.True);
    }

    [Test]
    public async Task Webhooks_tell_of_the_recording_but_not_its_file_name()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(new() { ["WEBHOOK_ALLOWED_NETWORKS"] = "loopback" }, engine: engine);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550000","message":"Disk full.","record":true,"webhookUrl":"{{receiver.Url}}"}""");
        await HostFactory.WaitForEndAsync(client, callId);
        await HostFactory.Eventually(async () => { await Task.Yield(); return receiver.Accepted.Any(r => r.Body.Contains("\"completed\"", StringComparison.Ordinal)); }, "the final webhook");

        var final = JsonDocument.Parse(receiver.Accepted.Last(r => r.Body.Contains("\"completed\"", StringComparison.Ordinal)).Body).RootElement;
        var recording = final.GetProperty("results").GetProperty("recordings")[0];
        Assert.That((recording.GetProperty("status").GetString(), recording.TryGetProperty("file", out _)), Is.EqualTo(("recorded", false)),
            "a file name is the secret part of its upload URL");
        var file = await RecordingFileAsync(factory, callId);
        Assert.That(receiver.Accepted.Any(r => r.Body.Contains(file, StringComparison.Ordinal)), Is.False);
    }

    [Test]
    public async Task Without_an_upload_target_nobody_can_upload()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var (callId, _) = await RecordedCallAsync(client);
        var response = await Anonymous(factory).PutAsync($"/fs/recordings/{await RecordingFileAsync(factory, callId)}", new ByteArrayContent([1, 2, 3]));
        Assert.That(response.StatusCode, Is.AnyOf(HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed));
    }

    [Test]
    public async Task Recordings_go_with_their_calls_past_the_retention()
    {
        await using var factory = new HostFactory(new() { ["RETENTION_DAYS"] = "30" }, engine: engine);
        using var client = factory.CreateClient();
        var (old, _) = await RecordedCallAsync(client);
        var (recent, _) = await RecordedCallAsync(client);
        var oldFile = await RecordingFileAsync(factory, old);
        var recentFile = await RecordingFileAsync(factory, recent);
        var directory = Path.Combine(factory.DataDirectory, "recordings");
        var orphanOld = Path.Combine(directory, $"{Guid.NewGuid()}-1-{new string('a', 24)}.wav");
        var orphanNew = Path.Combine(directory, $"{Guid.NewGuid()}-1-{new string('b', 24)}.wav");
        await File.WriteAllBytesAsync(orphanOld, [1]);
        await File.WriteAllBytesAsync(orphanNew, [1]);
        File.SetLastWriteTimeUtc(orphanOld, DateTime.UtcNow.AddDays(-40));

        await using (var connection = await factory.ConnectAsync())
        {
            Assert.That(await connection.ExecuteAsync(
                "UPDATE calls SET ended_at = ended_at - @age, created_at = created_at - @age WHERE call_id = @id", new { id = old, age = 40 * 86_400_000L }), Is.EqualTo(1));
        }
        await factory.Services.GetRequiredService<CallRecorder>().PurgeAsync();

        Assert.That(File.Exists(Path.Combine(directory, oldFile)), Is.False, "the purged call's recording");
        Assert.That(File.Exists(orphanOld), Is.False, "a file of no call, older than the retention");
        Assert.That(File.Exists(Path.Combine(directory, recentFile)), Is.True);
        Assert.That(File.Exists(orphanNew), Is.True, "a file of no call yet may still be on its way");
        Assert.That((await client.GetAsync($"/api/call/{recent}/recording")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
