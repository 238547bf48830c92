using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Voice.Control.FreeSwitch;
using Voice.TestPhone;

namespace Voice.Integration.Tests;

/// <summary>
/// The host as a user runs it — REST API, SQLite, speech served over HTTP — against the real servers, with
/// the test phone as the trunk. The host listens on a real port, so FreeSWITCH can fetch the speech from it.
/// </summary>
[NonParallelizable]
public class HostTests
{
    private const string Key = "integration-key-0123456789abcdef";

    private sealed class RealHost(Dictionary<string, string?> settings) : WebApplicationFactory<Program>
    {
        public Dictionary<string, string?> Settings => settings;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }

    private static async Task<(RealHost Host, HttpClient Client, TestPhone.TestPhone Phone, string Data)> StartAsync(
        bool speechOverHttp = false, Dictionary<string, string?>? extra = null, bool recordingsUploaded = false)
    {
        var settings = LabSettings.Require();
        var phone = TestPhone.TestPhone.Start(settings.PhoneAddress, logger: null);
        var port = FreePort();
        var data = Path.Combine(Path.GetTempPath(), "vb-it-host-" + Guid.NewGuid().ToString("N"));
        var host = new RealHost(new()
        {
            ["DataDirectory"] = data,
            ["WEBHOOK_ALLOWED_NETWORKS"] = "loopback", // the webhook receiver runs on this machine
            ["API_KEYS"] = "it=" + Key,
            ["DRACHTIO_HOST"] = settings.DrachtioHost,
            ["DRACHTIO_PORT"] = settings.DrachtioPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DRACHTIO_SECRET"] = settings.DrachtioSecret,
            ["FREESWITCH_HOST"] = settings.FreeSwitchHost,
            ["FREESWITCH_PORT"] = settings.FreeSwitchPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FREESWITCH_SECRET"] = settings.FreeSwitchPassword,
            ["FreeSwitch:SipUri"] = settings.Stock.SipUri,
            ["FreeSwitch:Profile"] = settings.Stock.Name,
            ["FreeSwitch:OutboundListen"] = settings.ListenerAddress.ToString(),
            ["FreeSwitch:OutboundPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SIP_TRUNK_HOST"] = phone.EndPoint.ToString(),
            ["SIP_DIAL_RULE"] = "E164",
            ["Tts:HttpBase"] = speechOverHttp ? $"http://{settings.ListenerAddress}:{port}/tts/" : null,
            // FreeSWITCH on another machine uploads recordings to the host; on this one it writes into the host's directory.
            ["RECORDINGS_FREESWITCH_TARGET"] = recordingsUploaded ? $"http://{settings.ListenerAddress}:{port}/fs/recordings/" : null,
        });
        foreach (var (key, value) in extra ?? [])
        {
            host.Settings[key] = value;
        }
        host.UseKestrel(k => k.Listen(settings.ListenerAddress, port));
        host.StartServer();
        var client = new HttpClient { BaseAddress = new Uri($"http://{settings.ListenerAddress}:{port}") };
        client.DefaultRequestHeaders.Add("X-API-Key", Key);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await client.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("the host did not become ready: " + await client.GetStringAsync("/readyz"));
            }
            await Task.Delay(100);
        }
        return (host, client, phone, data);
    }

    private static async Task StopAsync((RealHost Host, HttpClient Client, TestPhone.TestPhone Phone, string Data) running)
    {
        running.Client.Dispose();
        await running.Host.DisposeAsync();
        await running.Phone.DisposeAsync();
        Directory.Delete(running.Data, recursive: true);
    }

    private static Task<string> PostAsync(HttpClient client, string to) =>
        PostAsync(client, "/api/outbound-call", new { to, message = Messages.Alert, timeoutSeconds = 20 });

    /// <summary>POSTs <paramref name="body"/> (a call, or a click-to-call) and returns the call's id; fails the test unless it was accepted.</summary>
    private static async Task<string> PostAsync(HttpClient client, string path, object body)
    {
        var response = await client.PostAsJsonAsync(path, body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
    }

    private static async Task<JsonElement> EndedAsync(HttpClient client, string callId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (true)
        {
            var call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
            if (call.GetProperty("state").GetString() is "completed" or "failed")
            {
                return call;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} did not end: {call}");
            }
            await Task.Delay(50);
        }
    }

    private static async Task StateAsync(HttpClient client, string callId, string state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).GetProperty("state").GetString() != state)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} never reached {state}");
            }
            await Task.Delay(20);
        }
    }

    private static async Task AssertNoChannelsLeftAsync()
    {
        var settings = LabSettings.Require();
        await using var esl = new EslClient(new EslClientOptions { Host = settings.FreeSwitchHost, Port = settings.FreeSwitchPort, Password = settings.FreeSwitchPassword });
        await esl.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string count;
        while ((count = (await esl.ApiAsync("show channels count")).Trim()) != "0 total." && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.That(count, Is.EqualTo("0 total."), "FreeSWITCH channels left");
    }

    [Test]
    public async Task A_phone_calling_the_host_hears_its_application_and_the_call_is_in_the_history()
    {
        var running = await StartAsync(extra: new()
        {
            ["INBOUND_ROUTES"] = "4000=alerts",
            ["Applications:alerts:Say"] = "You reached the VoiceBridge alert line. All systems are fine.",
        });
        try
        {
            var settings = LabSettings.Require();
            var drachtio = await running.Client.GetFromJsonAsync<JsonElement>("/readyz");
            Assert.That(drachtio.GetProperty("ready").GetBoolean(), Is.True);
            var call = await running.Phone.DialAsync(new IPEndPoint(IPAddress.Parse(settings.DrachtioHost), 5060), "4000", caller: "1001");
            Assert.That((await call.Final.WaitAsync(TimeSpan.FromSeconds(15))).Status, Is.EqualTo(200));
            await call.HeardAsync(20, TimeSpan.FromSeconds(10));
            Assert.That(await call.Ended.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo("bye-received"));

            JsonElement stored = default;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (stored.ValueKind != JsonValueKind.Object)
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the call in the history");
                var history = await running.Client.GetFromJsonAsync<JsonElement>("/api/calls?state=completed");
                stored = history.GetProperty("calls").EnumerateArray().FirstOrDefault(c => c.GetProperty("direction").GetString() == "inbound");
                await Task.Delay(50);
            }
            Assert.That((stored.GetProperty("source").GetString(), stored.GetProperty("application").GetString(), stored.GetProperty("to").GetString()),
                Is.EqualTo(("sip", "alerts", "4000")));
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Test]
    public async Task Hanging_up_through_the_API_while_it_rings_cancels_the_INVITE()
    {
        var running = await StartAsync();
        try
        {
            running.Phone.When("+15551230021", PhoneBehaviour.Answering with { FinalStatus = null });
            var callId = await PostAsync(running.Client, "+15551230021");
            var phone = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            await StateAsync(running.Client, callId, "ringing");

            var hangup = await running.Client.PostAsync($"/api/call/{callId}/hangup", null);

            Assert.That(hangup.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var ended = await EndedAsync(running.Client, callId);
            Assert.That((ended.GetProperty("state").GetString(), ended.GetProperty("reason").GetString()), Is.EqualTo(("failed", "canceled")));
            Assert.That(await phone.Ended.WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo("canceled"));
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Test]
    public async Task Hanging_up_through_the_API_while_it_plays_sends_BYE()
    {
        var running = await StartAsync();
        try
        {
            var callId = await PostAsync(running.Client, "+15551230022");
            var phone = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            await StateAsync(running.Client, callId, "playing");
            await phone.HeardAsync(audiblePackets: 12, TimeSpan.FromSeconds(10)); // the callee hears the start of it

            var hangup = await running.Client.PostAsync($"/api/call/{callId}/hangup", null);

            Assert.That(hangup.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var ended = await EndedAsync(running.Client, callId);
            Assert.That((ended.GetProperty("state").GetString(), ended.GetProperty("reason").GetString()), Is.EqualTo(("completed", "local_hangup")));
            Assert.That(await phone.Ended.WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo("bye-received"));
            Assert.That(phone.Media.Report().HeardSpeech, Is.True, phone.Media.Report().ToString());
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    /// <summary>Skips the test, saying why, when the lab's FreeSWITCH has none of <paramref name="modules"/> loaded.</summary>
    private static async Task RequireModuleAsync(string without, params string[] modules)
    {
        var settings = LabSettings.Require();
        await using var esl = new EslClient(new EslClientOptions { Host = settings.FreeSwitchHost, Port = settings.FreeSwitchPort, Password = settings.FreeSwitchPassword });
        await esl.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10));
        foreach (var module in modules)
        {
            if ((await esl.ApiAsync("module_exists " + module)).Trim() == "true")
            {
                return;
            }
        }
        Assert.Ignore($"this FreeSWITCH {without}: load {modules[0]} (the stock drachtio-freeswitch-mrf image does)");
    }

    [Test]
    public async Task Speech_served_over_HTTP_is_heard_at_once_as_with_a_FreeSWITCH_on_another_host()
    {
        await RequireModuleAsync("plays no http:// URLs", "mod_httapi", "mod_http_cache");
        var running = await StartAsync(speechOverHttp: true);
        try
        {
            var callId = await PostAsync(running.Client, "+15551230023");
            var phone = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));

            var ended = await EndedAsync(running.Client, callId);

            Assert.That((ended.GetProperty("state").GetString(), ended.GetProperty("reason").GetString()), Is.EqualTo(("completed", "announce_complete")));
            var heard = phone.Media.Report();
            TestContext.Progress.WriteLine($"over HTTP: {heard}; speech {phone.AnswerToSpeech?.TotalMilliseconds:0.0} ms after the 200 OK");
            Assert.That(heard.HeardSpeech, Is.True, heard.ToString());
            Assert.That(phone.AnswerToSpeech, Is.LessThanOrEqualTo(TimeSpan.FromMilliseconds(150)));
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    /// <summary>The call's first recording, once the host has it (FreeSWITCH writes or uploads it as the recording stops).</summary>
    private static async Task<byte[]> RecordingAsync(HttpClient client, string callId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        JsonElement recording;
        while (!(recording = (await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).GetProperty("recordings")[0]).GetProperty("available").GetBoolean())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the recording never reached the host: " + recording);
            await Task.Delay(100); // the step of a bounded poll
        }
        return await client.GetByteArrayAsync(recording.GetProperty("url").GetString());
    }

    /// <summary>The left and right channels of a 16-bit stereo WAV file, after its 44-byte header.</summary>
    private static (short[] Left, short[] Right, int Rate) Channels(byte[] wav)
    {
        Assert.That(System.Text.Encoding.ASCII.GetString(wav, 0, 4), Is.EqualTo("RIFF"));
        Assert.That(BitConverter.ToInt16(wav, 22), Is.EqualTo(2), "stereo");
        var frames = (wav.Length - 44) / 4;
        var left = new short[frames];
        var right = new short[frames];
        for (var i = 0; i < frames; i++)
        {
            left[i] = BitConverter.ToInt16(wav, 44 + 4 * i);
            right[i] = BitConverter.ToInt16(wav, 46 + 4 * i);
        }
        return (left, right, BitConverter.ToInt32(wav, 24));
    }

    /// <summary>Per 20 ms window: its RMS and zero-crossing rate.</summary>
    private static List<(double Rms, double Crossings)> Windows(short[] samples, int rate) =>
        [.. samples.Chunk(rate / 50).Select(w => (Math.Sqrt(w.Average(s => (double)s * s)), w.Zip(w.Skip(1)).Count(p => (p.First < 0) != (p.Second < 0)) / (double)w.Length))];

    [TestCase(true, false, TestName = "A recorded call is uploaded by FreeSWITCH in stereo, the phone left and the message right")]
    [TestCase(false, false, TestName = "A recorded call is written into the host's directory in stereo, the phone left and the message right")]
    [TestCase(true, true, TestName = "A recorded call the phone hangs up mid-message is uploaded whole up to the hang-up")]
    public async Task A_recorded_call_reaches_the_host_in_stereo(bool uploaded, bool phoneHangsUp)
    {
        if (uploaded)
        {
            await RequireModuleAsync("uploads no recording over HTTP", "mod_httapi");
        }
        var running = await StartAsync(recordingsUploaded: uploaded);
        try
        {
            running.Phone.Behaviour = PhoneBehaviour.Answering with { ToneHz = 500, HangUpAfter = phoneHangsUp ? TimeSpan.FromSeconds(2.5) : null };
            var callId = await PostAsync(running.Client, "/api/outbound-call", new { to = "+15551230031", message = Messages.Alert, timeoutSeconds = 20, record = true });
            await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            var ended = await EndedAsync(running.Client, callId);
            Assert.That(ended.GetProperty("reason").GetString(), Is.EqualTo(phoneHangsUp ? "remote_hangup" : "announce_complete"));

            var wav = await RecordingAsync(running.Client, callId);
            var (left, right, rate) = Channels(wav);
            var seconds = left.Length / (double)rate;
            TestContext.Progress.WriteLine($"recording ({(uploaded ? "uploaded" : "shared directory")}): {wav.Length} bytes, {rate} Hz, {seconds:0.00} s; call {ended.GetProperty("duration")} s");
            var answered = ended.GetProperty("answeredAt").GetDateTimeOffset();
            var callSeconds = (ended.GetProperty("endedAt").GetDateTimeOffset() - answered).TotalSeconds;
            TestContext.Progress.WriteLine($"call answered for {callSeconds:0.00} s");
            Assert.That(seconds, Is.EqualTo(callSeconds).Within(0.6), "from the answer to the hang-up");

            // Left: what FreeSWITCH heard from the phone, its 500 Hz tone (a crossing rate of 2 × 500 / 8000).
            var phone = Windows(left, rate).Where(w => w.Rms > 1000).ToList();
            Assert.That(phone.Count, Is.GreaterThan(left.Length / (rate / 50) / 2), "the phone's tone through most of the call");
            Assert.That(phone.Average(w => w.Crossings), Is.EqualTo(0.125).Within(0.02), "a steady 500 Hz tone");
            // Right: what the phone heard, the spoken message (loud windows whose crossing rate varies, unlike the tone).
            var message = Windows(right, rate).Where(w => w.Rms > 500).ToList();
            Assert.That(message.Count, Is.GreaterThan(50), "at least a second of the message");
            Assert.That(message.Max(w => w.Crossings) - message.Min(w => w.Crossings), Is.GreaterThan(0.05), "speech, not a tone");
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Test]
    public async Task A_dial_bridges_the_call_to_a_second_phone_each_hears_the_other_and_its_hang_up_ends_both()
    {
        var running = await StartAsync();
        try
        {
            running.Phone.When("+15551230041", PhoneBehaviour.Answering with { ToneHz = 700 });
            running.Phone.When("+15551230042", PhoneBehaviour.Answering with { ToneHz = 500, HangUpAfter = TimeSpan.FromSeconds(3) });
            var callId = await PostAsync(running.Client, "/api/outbound-call", new
            {
                to = "+15551230041",
                record = true,
                verbs = new object[] { new { verb = "dial", timeout = 15, target = new[] { new { type = "phone", number = "+15551230042" } } } },
            });
            var caller = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            var dialled = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            Assert.That((caller.User, dialled.User), Is.EqualTo(("+15551230041", "+15551230042")));

            var ended = await EndedAsync(running.Client, callId);
            Assert.That((ended.GetProperty("reason").GetString(), ended.GetProperty("detail").GetString()), Is.EqualTo(("remote_hangup", "the dialled party hung up")));
            var dial = ended.GetProperty("results").GetProperty("dials")[0];
            Assert.That((dial.GetProperty("outcome").GetString(), dial.GetProperty("endedBy").GetString()), Is.EqualTo(("answered", "callee")));
            await caller.Ended.WaitAsync(TimeSpan.FromSeconds(5));

            var callerHeard = caller.Media.Report();
            var dialledHeard = dialled.Media.Report();
            TestContext.Progress.WriteLine($"bridged: the caller heard {callerHeard}; the dialled phone heard {dialledHeard}");
            Assert.That(dialledHeard.Audible, Is.GreaterThan(100), "the dialled phone heard the caller's tone for most of its 3 s");
            Assert.That(callerHeard.Audible, Is.GreaterThan(100), "the caller heard the dialled phone (ringback alone lasts a few packets)");

            // The recording of a bridged call: the caller on the left, the dialled phone (what the call played) on the right.
            var (left, right, rate) = Channels(await RecordingAsync(running.Client, callId));
            var callerTone = Windows(left, rate).Where(w => w.Rms > 1000).ToList();
            var dialledTone = Windows(right, rate).Where(w => w.Rms > 1000).ToList();
            Assert.That(callerTone.Average(w => w.Crossings), Is.EqualTo(2 * 700 / 8000.0).Within(0.02), "700 Hz, the caller, on the left");
            Assert.That(dialledTone.Count, Is.GreaterThan(100));
            Assert.That(dialledTone.Skip(dialledTone.Count / 2).Average(w => w.Crossings), Is.EqualTo(2 * 500 / 8000.0).Within(0.02), "500 Hz, the dialled phone, on the right");
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Test]
    public async Task The_caller_hanging_up_during_a_bridge_ends_the_dialled_leg_and_a_busy_target_lets_the_script_go_on()
    {
        var running = await StartAsync();
        try
        {
            running.Phone.When("+15551230051", PhoneBehaviour.Answering with { HangUpAfter = TimeSpan.FromSeconds(7) });
            running.Phone.When("+15551230052", PhoneBehaviour.Answering with { ToneHz = 500 });
            running.Phone.When("+15551230053", PhoneBehaviour.Answering with { FinalStatus = 486 });
            var callId = await PostAsync(running.Client, "/api/outbound-call", new
            {
                to = "+15551230051",
                verbs = new object[]
                {
                    new { verb = "dial", timeout = 10, target = new[] { new { type = "phone", number = "+15551230053" } } },
                    new { verb = "say", text = "Nobody is free." },
                    new { verb = "dial", timeout = 10, target = new[] { new { type = "phone", number = "+15551230052" } } },
                },
            });
            var calls = new List<PhoneCall>();
            for (var i = 0; i < 3; i++)
            {
                calls.Add(await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15)));
            }
            var dialled = calls.Single(c => c.User == "+15551230052");

            var ended = await EndedAsync(running.Client, callId);
            Assert.That((ended.GetProperty("reason").GetString(), ended.GetProperty("detail").ValueKind), Is.EqualTo(("remote_hangup", JsonValueKind.Null)));
            var dials = ended.GetProperty("results").GetProperty("dials");
            Assert.That((dials[0].GetProperty("outcome").GetString(), dials[0].GetProperty("sipStatus").GetInt32()), Is.EqualTo(("busy", 486)));
            Assert.That((dials[1].GetProperty("outcome").GetString(), dials[1].GetProperty("endedBy").GetString()), Is.EqualTo(("answered", "caller")));
            Assert.That(await dialled.Ended.WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo("bye-received"), "the dialled phone was hung up");
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Test]
    public async Task Click_to_call_rings_the_agent_showing_the_destination_then_bridges_them_and_frees_the_agent()
    {
        var running = await StartAsync();
        try
        {
            running.Phone.When("101", PhoneBehaviour.Answering with { ToneHz = 700 });
            running.Phone.When("+15551230061", PhoneBehaviour.Answering with { ToneHz = 500, HangUpAfter = TimeSpan.FromSeconds(2) });
            var callId = await PostAsync(running.Client, "/api/click-to-call", new { agent = "101", to = "+15551230061" });
            var agent = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            Assert.That(SipPacket.Uri(agent.Invite.Header("From")!), Does.StartWith("sip:+15551230061@"), "the agent's phone shows whom it will call");
            var again = await running.Client.PostAsJsonAsync("/api/click-to-call", new { agent = "101", to = "+15551230062" });
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "the agent is busy");

            await agent.HeardAsync(25, TimeSpan.FromSeconds(10)); // "Calling plus 1, 5 5 5, …"
            var destination = await running.Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.That(destination.User, Is.EqualTo("+15551230061"));
            var ended = await EndedAsync(running.Client, callId);
            Assert.That((ended.GetProperty("reason").GetString(), ended.GetProperty("agent").GetString(), ended.GetProperty("destination").GetString()),
                Is.EqualTo(("remote_hangup", "101", "+15551230061")));
            Assert.That(destination.Media.Report().Audible, Is.GreaterThan(50), "the destination heard the agent");
            var agents = await running.Client.GetFromJsonAsync<JsonElement>("/api/agents");
            Assert.That(agents.GetProperty("agents")[0].GetProperty("available").GetBoolean(), Is.True, "the agent is free again");
            await AssertNoChannelsLeftAsync();
        }
        finally
        {
            await StopAsync(running);
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
