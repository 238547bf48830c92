using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Voice.Host.Tests;

/// <summary>
/// A generated corpus of bad and odd requests (several hundred) against the host: malformed and truncated JSON,
/// wrong types, extreme numbers, deep nesting, invalid UTF-8, control and format characters in every string
/// field, odd content types, traversal under <c>/tts/</c>, odd ids and query strings. Whatever the request, the
/// answer is never a 5xx; every error is problem+json that says what is wrong (and names the field when one is
/// at fault) without .NET type names; and every call accepted can be read back through every GET.
/// </summary>
[NonParallelizable]
public class BadInputTests
{
    private const string Valid = """{"to":"+15005550000","message":"Hello."}""";

    private static readonly string[] StringFields = ["to", "message", "mode", "callerId", "webhookUrl", "voice"];

    private static readonly string[] NumberFields = ["timeoutSeconds", "repeat", "maxDurationSeconds"];

    private static HostFactory _factory = null!;
    private static HttpClient _client = null!;

    [OneTimeSetUp]
    public static void Start()
    {
        _factory = new HostFactory(new()
        {
            ["Calls:MaxQueuedCalls"] = "5000",
            ["MAX_CONCURRENT_CALLS"] = "1000",
            ["CALLS_PER_SECOND"] = "1000",
            ["RateLimit:PerSecond"] = "100000",
        });
        _client = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public static async Task Stop()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    /// <summary>A request body as bytes (invalid UTF-8 cannot travel in a string) and what the answer must name.</summary>
    public sealed record BodyCase(string Name, byte[] Body, string? Field, string ContentType = "application/json", int? Expected = null)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<TestCaseData> Bodies() => BodyCases().Select(c => new TestCaseData(c).SetName($"Body: {c.Name}"));

    private static IEnumerable<BodyCase> BodyCases()
    {
        static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
        static string With(string field, string jsonValue) =>
            field is "to" or "message" ? Valid.Replace($"\"{field}\":", $"\"{field}\":{jsonValue},\"_{field}\":", StringComparison.Ordinal) : Valid.TrimEnd('}') + $",\"{field}\":{jsonValue}}}";

        // Truncated: every prefix of a body with every field.
        const string full = """{"to":"+15005550000","message":"Hi.","mode":"announce","callerId":"100","timeoutSeconds":30,"webhookUrl":"http://127.0.0.1:9/hook","voice":"kal","repeat":2,"maxDurationSeconds":60,"headers":{"X-A":"b"},"tag":{"a":[1,{"b":null}]},"webhookEvents":["completed"]}""";
        for (var i = 0; i < full.Length; i += 3)
        {
            yield return new($"truncated at {i}", Utf8(full[..i]), null);
        }
        foreach (var (name, body) in new[]
        {
            ("not JSON", "hello"), ("array", "[1,2]"), ("string", "\"x\""), ("number", "5"), ("null", "null"), ("true", "true"),
            ("trailing comma", """{"to":"+15005550000","message":"Hi.",}"""), ("single quotes", "{'to':'+15005550000'}"),
            ("comment", """{"to":"+15005550000",/*x*/"message":"Hi."}"""), ("two objects", Valid + Valid),
            ("NaN", """{"to":"+15005550000","message":"Hi.","repeat":NaN}"""), ("unclosed string", """{"to":"+1500"""),
            ("bare key", """{to:"+15005550000"}"""), ("empty", ""), ("whitespace", "   \n\t "), ("BOM only", "\uFEFF"),
        })
        {
            yield return new(name, Utf8(body), null);
        }

        // Wrong types and extreme values in every field.
        string[] values = ["null", "true", "0", "-1", "1.5", "1e400", "-2147483649", "2147483648", "99999999999999999999", "\"5\"", "\"\"", "[]", "{}", "[\"a\"]", $"\"{new string('x', 5000)}\""];
        foreach (var field in StringFields.Concat(NumberFields).Concat(["headers", "tag", "webhookEvents"]))
        {
            foreach (var value in values)
            {
                // A number in a string is not a number: refused, as a typed API would.
                int? expected = value == "\"5\"" && NumberFields.Contains(field) ? 400 : null;
                yield return new($"{field} = {(value.Length > 20 ? value[..20] + "…" : value)}", Utf8(With(field, value)), field, Expected: expected);
            }
        }

        // Control and format characters in every string field, header names and values, list items and the tag.
        string[] characters = ["\\u0000", "\\u0007", "\\n", "\\r", "\\u001b", "\\u007f", "\\u0085", "\\u200b", "\\u202e", "\\ufeff", "\\ud800", "\\udfff", "\\ud83d\\ude00"];
        foreach (var c in characters)
        {
            foreach (var field in StringFields)
            {
                yield return new($"{field} holds {c}", Utf8(With(field, $"\"a{c}b\"")), field);
            }
            yield return new($"header name holds {c}", Utf8(With("headers", $"{{\"X-A{c}\":\"b\"}}")), "headers");
            yield return new($"header value holds {c}", Utf8(With("headers", $"{{\"X-A\":\"b{c}\"}}")), "headers");
            yield return new($"webhookEvents holds {c}", Utf8(With("webhookEvents", $"[\"completed{c}\"]")), "webhookEvents");
            yield return new($"tag string holds {c}", Utf8(With("tag", $"\"a{c}b\"")), "tag");
            yield return new($"tag name holds {c}", Utf8(With("tag", $"{{\"a{c}\":1}}")), "tag");
        }

        // Raw bytes that are not UTF-8.
        foreach (var (name, bytes) in new[] { ("ff", new byte[] { 0xff }), ("overlong NUL", [0xc0, 0x80]), ("encoded surrogate", [0xed, 0xa0, 0x80]), ("cut sequence", [0xe2, 0x82]) })
        {
            foreach (var field in StringFields.Concat(["tag"]))
            {
                var body = Utf8(With(field, "\"a@b\""));
                var at = Array.IndexOf(body, (byte)'@');
                yield return new($"{field} holds raw {name}", [.. body[..at], .. bytes, .. body[(at + 1)..]], field);
            }
        }

        // Nesting, in the tag and where no nesting belongs.
        foreach (var depth in new[] { 1, 2, 16, 31, 32, 33, 62, 63, 64, 65, 200, 1000 })
        {
            yield return new($"tag nested {depth} deep in arrays", Utf8(With("tag", new string('[', depth) + new string(']', depth))), "tag");
            yield return new($"tag nested {depth} deep in objects", Utf8(With("tag", string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth))), "tag");
        }
        yield return new("headers nested", Utf8(With("headers", """{"X-A":{"b":"c"}}""")), "headers");
        yield return new("webhookEvents nested", Utf8(With("webhookEvents", """[["completed"]]""")), "webhookEvents");

        // Content types that are not JSON in UTF-8.
        foreach (var type in new[] { "application/jsonfoo", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/json; charset=utf-16", "json", "application/", "*/*" })
        {
            yield return new($"Content-Type {type}", Utf8(Valid), null, type, 415);
        }
        yield return new("a voice the engine does not have", Utf8(With("voice", "\"nosuch\"")), "voice", Expected: 400);
        yield return new("a flite voice", Utf8(With("voice", "\"slt\"")), null, Expected: 200);
        yield return new("Content-Type with +json", Utf8(Valid), null, "application/vnd.voicebridge+json", 200);
        yield return new("Content-Type in capitals", Utf8(Valid), null, "APPLICATION/JSON; CHARSET=UTF-8", 200);
    }

    [TestCaseSource(nameof(Bodies))]
    public async Task A_bad_body_is_refused_with_a_problem_naming_what_is_wrong_or_accepted_and_readable(BodyCase @case)
    {
        using var content = new ByteArrayContent(@case.Body);
        content.Headers.TryAddWithoutValidation("Content-Type", @case.ContentType);
        using var response = await _client.PostAsync("/api/outbound-call", content);
        if (@case.Expected is { } expected)
        {
            Assert.That((int)response.StatusCode, Is.EqualTo(expected), await response.Content.ReadAsStringAsync());
        }
        await AssertAnswered(response, @case.Field);
        if (response.IsSuccessStatusCode)
        {
            await AssertReadable((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!);
        }
    }

    public static IEnumerable<TestCaseData> Gets()
    {
        // (A NUL in the path never reaches the host: the server refuses the request line.)
        string[] ids = ["..", "%2e%2e", new string('a', 5000), "%ff", "%ed%a0%80", "%F0%9F%98%80", "%0d%0aX-Injected:%20yes", "'%20OR%201=1--", "%25", "a%2fb", " "];
        foreach (var id in ids)
        {
            yield return new TestCaseData($"/api/call/{id}", "GET", 404).SetName($"GET call id {(id.Length > 20 ? "5000 a" : id)}");
            yield return new TestCaseData($"/api/call/{id}/hangup", "POST", 404).SetName($"hang up id {(id.Length > 20 ? "5000 a" : id)}");
        }
        string[] queries = ["limit=abc", "limit=-1", "limit=0", "limit=501", "limit=1e3", "limit=99999999999999999999", "state=xyz", "state=%00", "cursor=garbage", "cursor=%ff%fe",
            "cursor=" + new string('A', 4000), "from=not-a-date", "until=9999-99-99", "from=%00", "to=%2b1%00", "to=abc", "to=" + new string('1', 300), "limit=1&limit=2", "state=completed&state=failed", "%ff=1", "a=%ed%a0%80"];
        foreach (var query in queries)
        {
            yield return new TestCaseData("/api/calls?" + query, "GET", 400).SetName($"GET calls ?{(query.Length > 30 ? query[..30] + "…" : query)}");
        }
        foreach (var path in new[] { "/tts/../voicebridge.db", "/tts/%2e%2e/voicebridge.db", "/tts/..%2fvoicebridge.db", "/tts/%2e%2e%2fapi-key", "/tts/....//api-key", "/tts/.hidden.wav", "/tts/" + new string('a', 300) + ".wav" })
        {
            yield return new TestCaseData(path, "GET", 404).SetName($"GET {path[..Math.Min(path.Length, 40)]}");
        }
        yield return new TestCaseData("/api/nothing-here", "GET", 404).SetName("GET an unknown API path");
        yield return new TestCaseData("/api/calls", "DELETE", 405).SetName("DELETE the call list");
        yield return new TestCaseData("/api/outbound-call", "GET", 405).SetName("GET the call endpoint");
        yield return new TestCaseData("/api/calls?" + new string('q', 9000), "GET", 414).SetName("GET with a 9 KB query");
    }

    [TestCaseSource(nameof(Gets))]
    public async Task An_odd_path_or_query_is_answered_as_a_problem_never_a_server_error(string url, string method, int expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        using var response = await _client.SendAsync(request);
        Assert.That((int)response.StatusCode, Is.LessThan(500));
        if ((int)response.StatusCode == 200)
        {
            // Only a query that is harmless may be served; a file outside the speech directory never is.
            Assert.That(url, Does.StartWith("/api/calls?"), "served something it should not");
            return;
        }
        Assert.That((int)response.StatusCode, Is.EqualTo(expected));
        await AssertAnswered(response, null);
    }

    [Test]
    public async Task Odd_headers_are_refused_or_ignored_never_a_server_error()
    {
        foreach (var key in new[] { new string('k', 300), "a\u0001b", "ä", string.Empty })
        {
            using var content = new StringContent(Valid, Encoding.UTF8, "application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/outbound-call") { Content = content };
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
            using var response = await _client.SendAsync(request);
            await AssertAnswered(response, key.Length > 0 && key != "ä" ? "Idempotency-Key" : null);
        }
    }

    [Test]
    public async Task Every_accepted_call_is_in_the_history_and_the_history_reads_back()
    {
        var accepted = new List<string>();
        foreach (var @case in BodyCases())
        {
            using var content = new ByteArrayContent(@case.Body);
            content.Headers.TryAddWithoutValidation("Content-Type", @case.ContentType);
            using var response = await _client.PostAsync("/api/outbound-call", content);
            if (response.IsSuccessStatusCode)
            {
                accepted.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!);
            }
        }
        Assert.That(accepted, Has.Count.GreaterThan(50), "the corpus holds odd requests that are fine");
        var seen = new HashSet<string>();
        string? cursor = null;
        do
        {
            using var response = await _client.GetAsync("/api/calls?limit=500" + (cursor is null ? string.Empty : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            foreach (var call in page.GetProperty("calls").EnumerateArray())
            {
                seen.Add(call.GetProperty("callId").GetString()!);
            }
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);
        Assert.That(accepted.Except(seen), Is.Empty);
        Assert.That((await _client.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    private static async Task AssertReadable(string callId)
    {
        using var one = await _client.GetAsync($"/api/call/{callId}");
        Assert.That(one.StatusCode, Is.EqualTo(HttpStatusCode.OK), await one.Content.ReadAsStringAsync());
        using var active = await _client.GetAsync("/api/calls");
        Assert.That(active.StatusCode, Is.EqualTo(HttpStatusCode.OK), await active.Content.ReadAsStringAsync());
        using var history = await _client.GetAsync("/api/calls?limit=5");
        Assert.That(history.StatusCode, Is.EqualTo(HttpStatusCode.OK), await history.Content.ReadAsStringAsync());
    }

    /// <summary>Not a 5xx; an error is problem+json with a detail free of .NET type names, naming <paramref name="field"/> when given.</summary>
    private static async Task AssertAnswered(HttpResponseMessage response, string? field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.LessThan(500), text);
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var problem = JsonDocument.Parse(text).RootElement;
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.That(detail, Is.Not.Empty);
        Assert.That(detail, Does.Not.Contain("System.").And.Not.Contain("`1"), "a .NET type name in the error");
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo((int)response.StatusCode));
        if (field is not null && response.StatusCode == HttpStatusCode.BadRequest)
        {
            Assert.That(problem.TryGetProperty("field", out var named) ? named.GetString() : null, Does.StartWith(field), text);
        }
    }
}
