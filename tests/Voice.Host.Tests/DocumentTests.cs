using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Voice.Host.Tests;

/// <summary>The OpenAPI document and the rendered speech served over HTTP.</summary>
public class DocumentTests
{
    [Test]
    public async Task The_OpenAPI_document_describes_the_call_API_its_request_and_the_API_keys()
    {
        await using var factory = new HostFactory();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Remove("X-API-Key");

        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.That(document.GetProperty("openapi").GetString(), Does.StartWith("3."));
        Assert.That(document.GetProperty("info").GetProperty("title").GetString(), Is.EqualTo("VoiceBridge"));
        var paths = document.GetProperty("paths");
        Assert.That(paths.EnumerateObject().Select(p => p.Name),
            Is.SupersetOf(new[] { "/api/outbound-call", "/api/call/{callId}", "/api/calls", "/api/call/{callId}/hangup", "/api/stats" }));
        var post = paths.GetProperty("/api/outbound-call").GetProperty("post");
        var request = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.That(post.GetProperty("responses").EnumerateObject().Select(r => r.Name), Is.SupersetOf(new[] { "200", "400", "401", "403", "413", "415", "422", "429" }));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.That(request.GetProperty("properties").EnumerateObject().Select(p => p.Name),
            Is.SupersetOf(new[] { "to", "message", "mode", "callerId", "timeoutSeconds", "webhookUrl", "webhookEvents", "voice", "repeat", "tag", "verbs", "acknowledge", "retry", "escalate" }));
        Assert.That(request.GetProperty("required").EnumerateArray().Select(r => r.GetString()), Is.EquivalentTo(new[] { "to" }), "message, or verbs");
        Assert.That(schemas.GetProperty("CallView").GetProperty("properties").EnumerateObject().Select(p => p.Name),
            Is.SupersetOf(new[] { "success", "callId", "state", "status", "duration", "webhooks", "acknowledged", "digits", "results", "alert" }));
        var security = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.That(security.GetProperty("apiKey").GetProperty("name").GetString(), Is.EqualTo("X-API-Key"));
        Assert.That(security.GetProperty("bearer").GetProperty("scheme").GetString(), Is.EqualTo("bearer"));
    }

    [Test]
    public async Task Rendered_speech_is_served_under_tts_and_nothing_else_of_the_data_directory_is()
    {
        await using var factory = new HostFactory();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Remove("X-API-Key");
        await client.GetAsync("/healthz"); // started: the data directory exists
        var speech = Path.Combine(factory.DataDirectory, "tts");
        var name = new string('a', 64) + ".wav";
        await File.WriteAllBytesAsync(Path.Combine(speech, name), [82, 73, 70, 70, 0, 0, 0, 0]);
        await File.WriteAllBytesAsync(Path.Combine(speech, "." + name + ".tmp"), [1]);

        var audio = await client.GetAsync("/tts/" + name);
        Assert.That(audio.StatusCode, Is.EqualTo(HttpStatusCode.OK), "FreeSWITCH fetches without a key");
        Assert.That(audio.Content.Headers.ContentType!.MediaType, Is.EqualTo("audio/wav"));
        Assert.That(await audio.Content.ReadAsByteArrayAsync(), Has.Length.EqualTo(8));

        Assert.That((await client.GetAsync($"/tts/.{name}.tmp")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "a file being written");
        Assert.That((await client.GetAsync("/tts/..%2Fvoicebridge.db")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await client.GetAsync("/tts/../api-key")).StatusCode, Is.Not.EqualTo(HttpStatusCode.OK));
    }
}
