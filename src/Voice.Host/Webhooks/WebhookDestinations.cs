using System.Net;
using System.Net.Sockets;

namespace Voice.Host.Webhooks;

/// <summary>
/// Where webhooks may go. Anyone with an API key chooses a call's <c>webhookUrl</c>, so VoiceBridge would
/// otherwise POST wherever it is told from inside the network it runs in. Always refused: link-local addresses
/// (169.254.0.0/16 and fe80::/10, where cloud metadata services answer), other cloud metadata addresses,
/// unspecified (0.0.0.0/8, ::), multicast, broadcast and reserved ones, and URLs carrying a user name or password.
/// Loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7) and shared (100.64/10) addresses are refused unless
/// <see cref="AllowedNetworks"/> lists them (an n8n on the same machine: <c>WEBHOOK_ALLOWED_NETWORKS=loopback</c>).
/// </summary>
/// <remarks>
/// Host names are checked when the connection is made, on the addresses they resolve to then, so a name that
/// resolves to a public address when the call is placed and to the metadata service later (DNS rebinding) is
/// still refused; the URL itself is checked when the call is placed.
/// </remarks>
public sealed class WebhookDestinations
{
    private static readonly Network[] Metadata =
    [
        Network.Parse("100.100.100.200/32"), // Alibaba Cloud
        Network.Parse("fd00:ec2::254/128"), // AWS over IPv6
    ];

    private static readonly Network[] Private =
    [
        Network.Parse("10.0.0.0/8"), Network.Parse("172.16.0.0/12"), Network.Parse("192.168.0.0/16"),
        Network.Parse("100.64.0.0/10"), Network.Parse("fc00::/7"),
    ];

    private static readonly Network[] Loopback = [Network.Parse("127.0.0.0/8"), Network.Parse("::1/128")];

    private readonly Network[] _allowed;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    /// <param name="allowedNetworks">CIDR blocks (<c>192.168.1.0/24</c>), single addresses, or the words
    /// <c>loopback</c> and <c>private</c>.</param>
    /// <param name="resolve">Resolves a host name when a webhook connects (the system's resolver by default).</param>
    /// <exception cref="FormatException">An entry is none of those.</exception>
    public WebhookDestinations(IEnumerable<string>? allowedNetworks = null, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        _resolve = resolve ?? Dns.GetHostAddressesAsync;
        var allowed = new List<Network>();
        foreach (var entry in allowedNetworks ?? [])
        {
            allowed.AddRange(entry.Trim().ToLowerInvariant() switch
            {
                "loopback" => Loopback,
                "private" => Private,
                var cidr => [Network.TryParse(cidr, out var network)
                    ? network
                    : throw new FormatException($"WEBHOOK_ALLOWED_NETWORKS: '{entry}' is not a network (e.g. 192.168.1.0/24), an address, loopback or private.")],
            });
        }
        _allowed = [.. allowed];
        AllowedNetworks = [.. allowedNetworks ?? []];
    }

    /// <summary>Refuses loopback and private receivers too.</summary>
    public static WebhookDestinations Default { get; } = new();

    /// <summary>The allow-list as configured.</summary>
    public IReadOnlyList<string> AllowedNetworks { get; }

    /// <summary>Null when webhooks may be sent to <paramref name="url"/> as far as the URL shows; otherwise why not.</summary>
    public string? CheckUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return "must be an absolute http or https URL";
        }
        if (uri.UserInfo.Length > 0)
        {
            return "must not carry a user name or password (sign-in goes in the receiver's URL path or is checked with the webhook signature)";
        }
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var address))
        {
            return CheckAddress(address) is { } refused ? $"must not point at {address}: {refused}" : null;
        }
        var name = uri.IdnHost.TrimEnd('.');
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return CheckAddress(IPAddress.Loopback) is { } refused ? $"must not point at localhost: {refused}" : null;
        }
        return null;
    }

    /// <summary>Null when a webhook may connect to <paramref name="address"/>; otherwise why not.</summary>
    public string? CheckAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            if (bytes[0] == 0)
            {
                return "an unspecified address";
            }
            if (bytes[0] == 169 && bytes[1] == 254)
            {
                return "a link-local address, where cloud metadata services answer";
            }
            if (bytes[0] >= 224)
            {
                return "a multicast, broadcast or reserved address";
            }
        }
        else
        {
            if (address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any))
            {
                return "an unspecified address";
            }
            if (address.IsIPv6LinkLocal)
            {
                return "a link-local address, where cloud metadata services answer";
            }
            if (address.IsIPv6SiteLocal)
            {
                return "a reserved (site-local) address";
            }
            if (address.IsIPv6Multicast)
            {
                return "a multicast address";
            }
        }
        if (Metadata.Any(n => n.Contains(address)))
        {
            return "a cloud metadata address";
        }
        if (_allowed.Any(n => n.Contains(address)))
        {
            return null;
        }
        if (Loopback.Any(n => n.Contains(address)))
        {
            return "a loopback address (WEBHOOK_ALLOWED_NETWORKS=loopback allows it)";
        }
        if (Private.Any(n => n.Contains(address)))
        {
            return "a private address (WEBHOOK_ALLOWED_NETWORKS allows its network, e.g. 192.168.1.0/24, or private)";
        }
        return null;
    }

    /// <summary>
    /// Connects a webhook request to the first address its host resolves to now that the policy allows; refused
    /// when there is none. Used as the sender's <see cref="SocketsHttpHandler.ConnectCallback"/>.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await _resolve(host, ct).ConfigureAwait(false);
        var allowed = addresses.Where(a => CheckAddress(a) is null).ToArray();
        if (allowed.Length == 0)
        {
            var first = addresses.FirstOrDefault();
            throw new WebhookDestinationException(first is null
                ? $"{host} resolves to no address"
                : $"{host} resolves to {first}, {CheckAddress(first)}; webhooks are not sent there");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An address block.</summary>
    private readonly record struct Network(IPAddress Prefix, int Length)
    {
        public static Network Parse(string text) => TryParse(text, out var network) ? network : throw new FormatException(text);

        public static bool TryParse(string text, out Network network)
        {
            network = default;
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (!IPAddress.TryParse(slash < 0 ? text : text[..slash], out var prefix))
            {
                return false;
            }
            var max = prefix.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            var length = max;
            if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out length) || length > max))
            {
                return false;
            }
            network = new Network(prefix, length);
            return true;
        }

        public bool Contains(IPAddress address)
        {
            if (address.AddressFamily != Prefix.AddressFamily)
            {
                return false;
            }
            var a = address.GetAddressBytes();
            var p = Prefix.GetAddressBytes();
            var bits = Length;
            for (var i = 0; bits > 0; i++, bits -= 8)
            {
                var mask = bits >= 8 ? 0xFF : 0xFF << (8 - bits) & 0xFF;
                if ((a[i] & mask) != (p[i] & mask))
                {
                    return false;
                }
            }
            return true;
        }
    }
}

/// <summary>A webhook's destination is refused by <see cref="WebhookDestinations"/>; never retried.</summary>
public sealed class WebhookDestinationException(string message) : IOException(message);
