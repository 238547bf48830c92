using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Voice.Host.Security;

namespace Voice.Host.Tests;

/// <summary>API keys on /api, the per-key rate limit, and authentication turned off only on loopback.</summary>
public class AuthTests
{
    private static HttpClient Anonymous(HostFactory factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Remove("X-API-Key");
        return client;
    }

    private static StringContent Call() => new("""{"to":"+15005550000","message":"Hello."}""", Encoding.UTF8, "application/json");

    [Test]
    public async Task Api_requests_need_a_valid_key_as_bearer_token_or_X_API_Key_and_probes_do_not()
    {
        await using var factory = new HostFactory(new() { ["API_KEYS"] = "n8n=n8n-key-0123456789abcdef,ha=ha-key-0123456789abcdef" });
        using var client = Anonymous(factory);

        var missing = await client.PostAsync("/api/outbound-call", Call());
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(missing.Headers.WwwAuthenticate.ToString(), Is.EqualTo("Bearer"));
        var body = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That((body.GetProperty("success").GetBoolean(), body.GetProperty("code").GetString()), Is.EqualTo((false, "missing_api_key")));

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/calls");
        wrong.Headers.Add("X-API-Key", "n8n-key-0123456789abcdeX");
        var refused = await client.SendAsync(wrong);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("invalid_api_key"));

        using var bearer = new HttpRequestMessage(HttpMethod.Post, "/api/outbound-call") { Content = Call() };
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "ha-key-0123456789abcdef");
        Assert.That((await client.SendAsync(bearer)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var header = new HttpRequestMessage(HttpMethod.Get, "/api/calls?limit=10");
        header.Headers.Add("X-API-Key", "n8n-key-0123456789abcdef");
        var history = await client.SendAsync(header);
        Assert.That(history.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await history.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32(), Is.EqualTo(1), "only the authenticated POST placed a call");

        Assert.That((await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "probes need no key");
        Assert.That((await client.GetAsync("/readyz")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Each_key_has_its_own_rate_limit_and_a_refused_request_says_when_to_retry()
    {
        await using var factory = new HostFactory(new()
        {
            ["API_KEYS"] = "busy=busy-key-0123456789abcdef,quiet=quiet-key-0123456789abcdef",
            ["RateLimit:PerSecond"] = "1",
            ["RateLimit:Burst"] = "3",
        });
        using var client = Anonymous(factory);
        async Task<HttpResponseMessage> Get(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/calls");
            request.Headers.Add("X-API-Key", key);
            return await client.SendAsync(request);
        }

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await Get("busy-key-0123456789abcdef")).StatusCode);
        }
        Assert.That(statuses.Take(3), Has.All.EqualTo(HttpStatusCode.OK), "the burst");
        Assert.That(statuses.Last(), Is.EqualTo(HttpStatusCode.TooManyRequests));
        var limited = await Get("busy-key-0123456789abcdef");
        Assert.That(limited.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(int.Parse(limited.Headers.GetValues("Retry-After").Single()), Is.InRange(1, 2));
        Assert.That((await limited.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("rate_limited"));

        Assert.That((await Get("quiet-key-0123456789abcdef")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "another key is not slowed by the busy one");
    }

    [Test]
    public async Task Without_configured_keys_one_is_generated_in_the_data_directory_readable_only_by_its_owner()
    {
        await using var factory = new HostFactory(new() { ["API_KEYS"] = "" });
        using var client = Anonymous(factory);
        Assert.That((await client.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "no key configured is not no key needed");

        var path = Path.Combine(factory.DataDirectory, "api-key");
        var key = (await File.ReadAllTextAsync(path)).Trim();
        Assert.That(key, Does.StartWith("vb_").And.Length.GreaterThan(40));
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        Assert.That((await client.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Authentication_can_be_turned_off_only_when_listening_on_loopback()
    {
        await using (var local = new HostFactory(new() { ["API_AUTH"] = "off", ["urls"] = "http://127.0.0.1:3000" }))
        {
            using var client = Anonymous(local);
            Assert.That((await client.PostAsync("/api/outbound-call", Call())).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        await using var exposed = new HostFactory(new() { ["API_AUTH"] = "off", ["urls"] = "http://0.0.0.0:3000" });
        var refused = Assert.Throws<InvalidOperationException>(() => exposed.CreateClient());
        Assert.That(refused!.Message, Does.Contain("API_AUTH=off").And.Contain("0.0.0.0"));
    }

    [Test]
    public async Task A_full_call_queue_answers_429_with_Retry_After_and_keeps_nothing_of_the_refused_call()
    {
        await using var factory = new HostFactory(new() { ["Calls:MaxQueuedCalls"] = "1", ["CALLS_PER_SECOND"] = "1", ["MAX_CONCURRENT_CALLS"] = "1" });
        using var client = factory.CreateClient();
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            responses.Add(await client.PostAsync("/api/outbound-call", Call()));
        }
        var full = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.That(int.Parse(full.Headers.GetValues("Retry-After").Single()), Is.GreaterThanOrEqualTo(1));
        Assert.That((await full.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("queue_full"));
        var accepted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        Assert.That(accepted, Is.InRange(1, 3));
        var stored = await client.GetFromJsonAsync<JsonElement>("/api/calls?limit=10");
        Assert.That(stored.GetProperty("count").GetInt32(), Is.EqualTo(accepted), "a refused call is not in the history");
    }

    [Test]
    public async Task Guessing_keys_is_slowed_to_one_guess_every_six_seconds_after_ten_and_the_right_key_works_from_elsewhere()
    {
        await using var factory = new HostFactory();
        using var guesser = Anonymous(factory);
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 30; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/calls");
            request.Headers.Add("X-API-Key", $"wrong-key-{i:D4}-0123456789");
            using var response = await guesser.SendAsync(request);
            answers.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.That(int.Parse(response.Headers.GetValues("Retry-After").Single()), Is.InRange(1, 6));
                Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("too_many_wrong_keys"));
            }
        }
        Assert.That(answers.Take(10), Is.All.EqualTo(HttpStatusCode.Unauthorized), "ten wrong keys are answered 401");
        Assert.That(answers.Skip(10), Is.All.EqualTo(HttpStatusCode.TooManyRequests), "then the address must wait, whatever it sends");

        // The limit is per address, not per key: the real client on another address is not locked out.
        var other = await factory.Server.SendAsync(context =>
        {
            context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
            context.Request.Method = "GET";
            context.Request.Path = "/api/calls";
            context.Request.Headers["X-API-Key"] = HostFactory.ApiKey;
        });
        Assert.That(other.Response.StatusCode, Is.EqualTo(StatusCodes.Status200OK));
    }

    [TestCase(null, true)]
    [TestCase("http://127.0.0.1:3000", true)]
    [TestCase("http://localhost:3000;http://[::1]:3000", true)]
    [TestCase("http://0.0.0.0:3000", false)]
    [TestCase("http://*:3000", false)]
    [TestCase("http://127.0.0.1:3000;http://192.168.1.10:3000", false)]
    [TestCase("http://[::]:3000", false)]
    public void Loopback_only_means_every_bound_address_is_loopback(string? urls, bool loopback) =>
        Assert.That(ApiSecurity.IsLoopbackOnly(urls), Is.EqualTo(loopback));

    [Test]
    public void Short_keys_are_refused_at_start_up() =>
        Assert.That(() => ApiKeys.Parse(["n8n=short"]), Throws.InvalidOperationException.With.Message.Contains("16 characters"));

    [Test]
    public async Task On_a_kept_alive_connection_every_request_is_checked_again_a_wrong_key_after_a_right_one_included()
    {
        // A real server (connections, kept alive), not the in-memory one: the key's check is remembered per connection.
        using var data = new TemporaryDirectory();
        await using var host = await HostProcess.StartAsync(data.Path, new Dictionary<string, string?>());
        var connections = 0;
        using var client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            ConnectCallback = async (context, ct) =>
            {
                Interlocked.Increment(ref connections);
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        }) { BaseAddress = host.Client.BaseAddress };
        async Task<HttpStatusCode> ListWith(string? key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/calls");
            if (key is not null)
            {
                request.Headers.Add("X-API-Key", key);
            }
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }
        var wrong = HostFactory.ApiKey[..^1] + "X"; // as long as the right one, differing in its last character

        var answers = new[] { await ListWith(HostFactory.ApiKey), await ListWith(HostFactory.ApiKey), await ListWith(wrong), await ListWith(null), await ListWith(HostFactory.ApiKey) };

        Assert.That(answers, Is.EqualTo(new[] { HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.OK }));
        Assert.That(connections, Is.EqualTo(1), "all on one connection");
    }
}
