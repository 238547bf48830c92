namespace Voice.Control.Media;

/// <summary>A finished recording: where FreeSWITCH wrote it and how long it is.</summary>
public sealed record Recording(string Path, TimeSpan Duration);
