namespace Voice.Control.Sip;

/// <summary>Digest credentials for a trunk or PBX extension. The password never appears in ToString or logs.</summary>
public sealed record SipCredentials(string Username, string Password)
{
    public override string ToString() => $"SipCredentials {{ Username = {Username} }}";
}
