namespace Voice.Control.Calls;

/// <summary>The ids VoiceBridge gives calls.</summary>
public static class CallIds
{
    /// <summary>
    /// A new call id: a UUID whose leading bits are the time it was made (version 7, RFC 9562), so a later call's id
    /// sorts after an earlier one's. The rest is random, as in a version 4 UUID (74 bits): ids are no easier to guess.
    /// </summary>
    /// <remarks>
    /// Stores key their rows by call id. With random ids every state change, event and webhook of a call wrote a page of
    /// its own in each such index, somewhere in the middle of it; with ids in time order the calls that run at the same
    /// time sit on the last pages, which one commit writes once for all of them.
    /// </remarks>
    public static string New() => Guid.CreateVersion7().ToString();
}
