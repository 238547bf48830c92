namespace Voice.Control.Net;

/// <summary>
/// Ids that match a reply to its request on a connection (drachtio-server's message ids, FreeSWITCH's Event-UUID and
/// Job-UUID, an endpoint's X-esl-outbound): version-4 UUIDs as before, unique but not secret. <see cref="Guid.NewGuid"/>
/// costs a system call each on Linux (the runtime reads 16 bytes of /dev/urandom), and a call needs about ten of these;
/// these come from the process's random generator instead, itself seeded from the system's.
/// </summary>
internal static class CorrelationIds
{
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        // In Guid's byte order: the version (4) is the high nibble of byte 7, the variant (10xx) the top bits of byte 8.
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes).ToString();
    }
}
