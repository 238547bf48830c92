using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;
using Voice.Control.Scripts;
using Voice.Control.Sip;

namespace Voice.Control.Backends;

/// <summary>
/// Takes the INVITEs drachtio-server routes to VoiceBridge: the number or user called picks the application
/// (<see cref="CallOptions.InboundRoutes"/>; none: 404 with the reason), and the call runs it like any other that came
/// in, limits included (<see cref="CallManager.Accept"/>).
/// </summary>
internal sealed partial class SipInboundCalls(CallManager calls, MediaServerPool media, CallOptions options, ILogger logger)
{
    // Headers of the INVITE the call hook is not told: transport and routing, framing, credentials.
    private static readonly HashSet<string> Unshared = new(StringComparer.OrdinalIgnoreCase)
    {
        "Via", "Route", "Record-Route", "Max-Forwards", "Content-Length", "Content-Type", "Authorization", "Proxy-Authorization",
    };

    public async Task TakeAsync(IncomingInvite invite)
    {
        var request = invite.Request;
        var requestUser = UserOf(request.RequestUri);
        var toUser = UserOf(request.To is { } to ? SipAddress.GetUri(to) : null);
        if (InboundRoute.Find(options.InboundRoutes, requestUser, toUser) is not { } application)
        {
            var called = requestUser ?? toUser ?? request.RequestUri ?? string.Empty;
            NoRoute(logger, called, invite.SourceAddress);
            await invite.RejectAsync(404, SipInboundLeg.ReasonPhrase(404), [new("Reason", SipInboundLeg.ReasonHeader(404, $"no application for '{called}'"))])
                .ConfigureAwait(false);
            return;
        }
        calls.Accept(Describe(request, application, requestUser ?? toUser ?? string.Empty), new SipInboundLeg(invite, media));
    }

    /// <summary>Who called (the From's user; <c>anonymous</c> without one), whom, and the INVITE's headers for the call hook.</summary>
    internal static InboundCallInfo Describe(SipMessage invite, string application, string called)
    {
        var variables = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in invite.Headers)
        {
            if (!Unshared.Contains(header.Name))
            {
                variables[header.Name] = variables.TryGetValue(header.Name, out var earlier) ? $"{earlier}, {header.Value}" : header.Value;
            }
        }
        return new InboundCallInfo
        {
            From = UserOf(invite.From is { } from ? SipAddress.GetUri(from) : null) ?? "anonymous",
            To = called,
            Source = "sip",
            Application = application,
            Variables = variables,
        };
    }

    /// <summary>The user part of a sip:, sips: or tel: URI, unescaped; null when it has none.</summary>
    internal static string? UserOf(string? uri)
    {
        if (uri is null)
        {
            return null;
        }
        if (uri.StartsWith("tel:", StringComparison.OrdinalIgnoreCase))
        {
            var number = uri[4..];
            var semi = number.IndexOf(';', StringComparison.Ordinal);
            return semi < 0 ? number : number[..semi];
        }
        return SipUri.TryParse(uri, out var parsed) && !string.IsNullOrEmpty(parsed.User) ? Uri.UnescapeDataString(parsed.User) : null;
    }

    [LoggerMessage(LogLevel.Information, "A call to {Called} from {Source} matches no inbound route; refused 404")]
    private static partial void NoRoute(ILogger logger, string called, string source);
}
