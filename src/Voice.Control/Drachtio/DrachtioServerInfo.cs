namespace Voice.Control.Drachtio;

/// <summary>What drachtio-server reported when it accepted the secret.</summary>
/// <param name="SipAddresses">The SIP contacts it listens on, such as <c>udp/127.0.0.1:5060</c>.</param>
/// <param name="Version">The server version, such as <c>v0.9.10-1-g9c2dd4cb6a</c>.</param>
/// <param name="LocalAddresses">Its local SIP addresses (behind NAT these differ from <paramref name="SipAddresses"/>).</param>
public sealed record DrachtioServerInfo(IReadOnlyList<string> SipAddresses, string Version, IReadOnlyList<string> LocalAddresses)
{
    /// <summary>The host:port of the first SIP contact for a transport (udp, tcp, …), or null.</summary>
    public string? GetSipHostPort(string transport)
    {
        var prefix = transport + "/";
        foreach (var address in SipAddresses)
        {
            if (address.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return address[prefix.Length..];
            }
        }
        return null;
    }

    internal static DrachtioServerInfo FromAuthenticateReply(DrachtioResponse reply) => new(
        Split(reply.Message.GetField(4)), reply.Message.GetField(5), Split(reply.Message.GetField(6)));

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
