namespace Voice.Host.Storage;

/// <summary>Where the host keeps its data, and for how long; recordings (in <paramref name="RecordingDirectory"/>) go with their calls.</summary>
internal sealed record StorageOptions(string DatabasePath, TimeSpan Retention, string? RecordingDirectory = null);
