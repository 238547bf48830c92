using System.Text.Json;
using Voice.Host.Api;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>The generated serialization of the API's answers writes what the reflected one wrote, field for field.</summary>
public class ApiJsonTests
{
    private static readonly DateTimeOffset Created = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);

    /// <summary>The host's options before the generated code: web defaults, reflected metadata.</summary>
    private static readonly JsonSerializerOptions Reflected = new(JsonSerializerDefaults.Web) { MaxDepth = ApiJson.MaxDepth };

    /// <summary>The options the API's answers are written with (<see cref="JsonBody"/>).</summary>
    private static JsonSerializerOptions Generated() => ApiJson.HostOptions;

    private static CallView Full() => new CallView(
        "01a235a5-0765-765a-99b1-b59a600733ac", "+15551230100", "completed", "announce", "announce_complete", 200, "said \"hi\" <ok>", "+15550001111",
        Created, Created.AddSeconds(2), Created.AddSeconds(9), 7, """{"team":"ops","level":[1,{"deep":true}]}""", false)
    {
        Direction = "inbound",
        Source = "sip",
        Application = "greeting",
        Acknowledged = true,
        Digits = "1#",
        Agent = "101",
        Destination = "+15551230100",
        Recordings = [new RecordingView(1, "stored", "mono", Created, Created.AddSeconds(5), null, true, 8000, 1000, "/api/call/x/recording")],
        Results = JsonDocument.Parse("""{"gathers":[{"digits":"1"}]}""").RootElement,
        Alert = new AlertView("a-1", "acknowledged", "+15551230100", null, null, [new AttemptView(1, "c-1", "+15551230100", "completed", "announce_complete", true)]),
        Webhooks = new WebhookSummary(1, 1, 0,
        [
            new WebhookState(1, "queued", "delivered", 1, 200, null, null, Created),
            new WebhookState(2, "dialing", "pending", 2, 503, "Service Unavailable", Created.AddSeconds(30), null),
        ]),
    };

    private static CallView Bare() => new("c-2", "101", "queued", "announce", null, null, null, null, Created, null, null, null, null, true);

    [Test]
    public void A_call_is_written_as_before()
    {
        var options = Generated();
        foreach (var call in new[] { Full(), Bare() })
        {
            Assert.That(JsonSerializer.Serialize(call, options), Is.EqualTo(JsonSerializer.Serialize(call, Reflected)));
        }
        Assert.That(JsonSerializer.Serialize(Full(), options), Does.StartWith("""{"success":true,"callId":"01a235a5-0765-765a-99b1-b59a600733ac","""));
        Assert.That(JsonSerializer.Serialize(Full(), options), Does.Contain(""","tag":{"team":"ops","level":[1,{"deep":true}]},"""), "the tag is the JSON value sent, not a string");
    }

    [Test]
    public void A_call_read_back_keeps_its_tag_as_JSON_text()
    {
        var options = Generated();
        var read = JsonSerializer.Deserialize<CallView>(JsonSerializer.Serialize(Full(), options), options)!;
        Assert.That(read.Tag, Is.EqualTo("""{"team":"ops","level":[1,{"deep":true}]}"""));
        Assert.That(JsonSerializer.Deserialize<CallView>(JsonSerializer.Serialize(Bare(), options), options)!.Tag, Is.Null);
    }

    [Test]
    public void Placed_calls_and_lists_are_written_as_before()
    {
        var options = Generated();
        object[] values = [new PlacedView("c-1", "queued", true), new CallListView([Full(), Bare()]), new CallHistoryView([Bare()], "cursor")];
        foreach (var value in values)
        {
            Assert.That(JsonSerializer.Serialize(value, value.GetType(), options), Is.EqualTo(JsonSerializer.Serialize(value, value.GetType(), Reflected)), value.GetType().Name);
        }
    }

    [Test]
    public void The_generated_code_writes_the_listed_types()
    {
        var options = Generated();
        Assert.That(options.GetTypeInfo(typeof(CallView)).OriginatingResolver, Is.SameAs(ApiJson.Default));
        // Everything else goes on as before, by reflection.
        Assert.That(JsonSerializer.Serialize(new { success = true, callId = "c-1" }, options), Is.EqualTo("""{"success":true,"callId":"c-1"}"""));
    }

    [Test]
    public void Options_made_without_a_resolver_keep_reflecting_the_other_types()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiJson.Use(options);
        Assert.That(JsonSerializer.Serialize(new { callId = "c-1" }, options), Is.EqualTo("""{"callId":"c-1"}"""));
        Assert.That(JsonSerializer.Serialize(Full(), options), Is.EqualTo(JsonSerializer.Serialize(Full(), Reflected)));
    }

    [Test]
    public void A_tag_deeper_than_the_limit_is_refused_as_before()
    {
        var deep = string.Concat(Enumerable.Repeat("[", 130)) + string.Concat(Enumerable.Repeat("]", 130));
        var call = Bare() with { Tag = deep };
        Assert.Throws<JsonException>(() => JsonSerializer.Serialize(call, Generated()));
        Assert.Throws<JsonException>(() => JsonSerializer.Serialize(call, Reflected));
        Assert.Throws<JsonException>(() => JsonSerializer.Serialize(Bare() with { Tag = """{"a":""" }, Generated()), "never half a value in an answer");
    }
}
