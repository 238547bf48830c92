using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Voice.Host.Tests;

/// <summary>Numbers as the API reads them: lengths by country, national input of the home country, kinds of line the policy denies.</summary>
public class NumbersApiTests
{
    private static Task<HttpResponseMessage> PlaceAsync(HttpClient client, string to) =>
        client.PostAsync("/api/outbound-call", new StringContent(JsonSerializer.Serialize(new { to, message = "Hi" }), Encoding.UTF8, "application/json"));

    [TestCase("+441234", "too short for a number in country code +44")]
    [TestCase("+8881234", "too short")]
    public async Task A_number_shorter_than_its_country_allows_is_refused(string to, string reason)
    {
        await using var factory = new HostFactory();
        using var client = factory.CreateClient();
        var response = await PlaceAsync(client, to);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("field").GetString(), Is.EqualTo("to"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain(reason));
    }

    [Test]
    public async Task With_a_home_country_national_numbers_are_read_as_people_there_write_them()
    {
        await using var factory = new HostFactory(new() { ["Sip:HomeCountryCode"] = "49" });
        using var client = factory.CreateClient();
        var response = await PlaceAsync(client, "030 1234567");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var callId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
        var call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
        Assert.That(call.GetProperty("to").GetString(), Is.EqualTo("+49301234567"));
        var found = await client.GetFromJsonAsync<JsonElement>("/api/calls?to=030%201234567");
        Assert.That(found.GetProperty("calls").EnumerateArray().Select(c => c.GetProperty("callId").GetString()), Does.Contain(callId), "the history filter reads the number the same way");
    }

    [Test]
    public async Task Premium_rate_numbers_are_denied_by_kind_of_line_and_a_deployment_can_deny_more()
    {
        await using (var factory = new HostFactory())
        {
            using var client = factory.CreateClient();
            var response = await PlaceAsync(client, "+31900123456"); // Dutch premium rate: in no listed prefix
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), Does.Contain("premium-rate numbers are denied"));
        }
        await using (var strict = new HostFactory(new() { ["Calls:DeniedNumberTypes:0"] = "PremiumRate", ["Calls:DeniedNumberTypes:1"] = "shared_cost" }))
        {
            using var client = strict.CreateClient();
            var response = await PlaceAsync(client, "+491801234567");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), Does.Contain("shared-cost numbers are denied"));
        }
    }
}
