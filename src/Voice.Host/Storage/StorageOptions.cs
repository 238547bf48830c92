namespace Voice.Host.Storage;

/// <summary>How long the host keeps its calls; recordings (in <paramref name="RecordingDirectory"/>) go with them.</summary>
internal sealed record StorageOptions(TimeSpan Retention, string? RecordingDirectory = null)
{
    /// <summary>
    /// The database a connection string names (<c>DATABASE_URL</c> or <c>Storage:ConnectionString</c>): PostgreSQL for a
    /// <c>postgres://</c> URL or Npgsql's <c>Host=…</c> form, a SQLite file for <c>sqlite:path</c> or <c>Data Source=path</c>,
    /// and SQLite's <c>voicebridge.db</c> in <paramref name="dataDirectory"/> when there is none.
    /// </summary>
    /// <exception cref="ArgumentException">The string names neither.</exception>
    public static StoreDatabase Database(string? connectionString, string dataDirectory)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return new SqliteDatabase(Path.Combine(dataDirectory, "voicebridge.db"));
        }
        if (PostgresDatabase.Names(connectionString))
        {
            return new PostgresDatabase(connectionString);
        }
        if (connectionString.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = connectionString["sqlite:".Length..];
            return new SqliteDatabase(Path.Combine(dataDirectory, path.Length == 0 ? "voicebridge.db" : path));
        }
        if (connectionString.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase))
        {
            return new SqliteDatabase(Path.Combine(dataDirectory, new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString).DataSource));
        }
        throw new ArgumentException(
            "DATABASE_URL names no database VoiceBridge knows: use postgres://user:password@host:5432/database (or Host=…;Database=…) for PostgreSQL, or sqlite:path for a SQLite file");
    }
}
