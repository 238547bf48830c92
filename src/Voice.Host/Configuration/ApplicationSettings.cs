using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;

namespace Voice.Host.Configuration;

/// <summary>An application as the host configures it: what its calls hear, and where their state changes go.</summary>
public sealed record InboundApplication(string Name, CallApplication Application, string? WebhookUrl);

/// <summary>
/// Applications from configuration, one section each under <c>Applications</c> (in the environment,
/// <c>Applications__alerts__CallHook=https://…</c>):
/// <c>CallHook</c> (the URL each new call is POSTed to; its answer is the verbs), or <c>Say</c> (a message) or
/// <c>Verbs</c> (a script as JSON text); <c>FallbackSay</c> (said when the call hook fails); <c>Voice</c>;
/// <c>WebhookUrl</c> (where its calls' state changes are POSTed, as a placed call's).
/// </summary>
public static class ApplicationSettings
{
    /// <exception cref="InvalidOperationException">An application cannot be used; the message names it and why.</exception>
    public static IReadOnlyList<InboundApplication> From(IConfiguration configuration, Webhooks.WebhookDestinations destinations)
    {
        var applications = new List<InboundApplication>();
        foreach (var section in configuration.GetSection("Applications").GetChildren())
        {
            var name = section.Key;
            var where = $"Applications:{name}";
            if (!CallFieldRules.IsApplicationName(name))
            {
                throw new InvalidOperationException($"{where}: the name must be 1–64 letters, digits, _ or -.");
            }
            var script = (section["Verbs"], section["Say"]) switch
            {
                ({ } verbs, null) => Parse(verbs, $"{where}:Verbs"),
                (null, { } say) => CallScript.Say(Message(say, $"{where}:Say")),
                (null, null) => null,
                _ => throw new InvalidOperationException($"{where}: give Verbs or Say, not both."),
            };
            var hook = section["CallHook"] is { } url ? Url(url, $"{where}:CallHook", destinations) : null;
            var application = new CallApplication
            {
                Script = script,
                CallHook = hook,
                Fallback = section["FallbackSay"] is { } fallback ? CallScript.Say(Message(fallback, $"{where}:FallbackSay")) : null,
                Voice = section["Voice"],
            };
            if (application.Problem() is { } problem)
            {
                throw new InvalidOperationException($"{where}: {problem} (CallHook, Say or Verbs).");
            }
            var webhook = section["WebhookUrl"] is { } webhookUrl ? Url(webhookUrl, $"{where}:WebhookUrl", destinations).ToString() : null;
            applications.Add(new InboundApplication(name, application, webhook));
        }
        return applications;
    }

    private static CallScript Parse(string json, string where)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"{where}: not JSON ({ex.Message}); give the verbs as a JSON list, e.g. [{{\"verb\":\"say\",\"text\":\"Hello\"}}]");
        }
        using (document)
        {
            return CallScript.TryParse(document.RootElement, out var script, out var problems, where)
                ? script!
                : throw new InvalidOperationException(string.Join("; ", problems));
        }
    }

    private static string Message(string text, string where) =>
        text.Length is > 0 and <= CallFieldRules.MaxMessageLength && !text.Any(char.IsControl)
            ? text
            : throw new InvalidOperationException($"{where}: 1–{CallFieldRules.MaxMessageLength} characters on one line.");

    private static Uri Url(string url, string where, Webhooks.WebhookDestinations destinations) =>
        destinations.CheckUrl(url) is { } refused ? throw new InvalidOperationException($"{where}: {refused}") : new Uri(url);
}
