using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>The databases the host runs on; fixtures that touch storage run once on each.</summary>
public enum Engine
{
    Sqlite,
    Postgres,
}

/// <summary>
/// A database of a test's own, on either engine, that outlives the hosts and stores a test opens on it: a SQLite file
/// in a temporary data directory, or a new database on the test PostgreSQL (<see cref="PostgresServer"/>).
/// </summary>
public sealed class TestDatabase : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    public TestDatabase(Engine engine)
    {
        Engine = engine;
        Url = engine == Engine.Postgres ? PostgresServer.CreateDatabase() : null;
    }

    /// <summary>
    /// The host name of the stores and hosts a test opens on this database: one host that stops and starts again, so it
    /// finds what it left (on PostgreSQL a host finds only its own calls; another's are taken over once its lease ends).
    /// </summary>
    public const string HostId = "test-host";

    public Engine Engine { get; }

    /// <summary>The host's data directory (for SQLite, the database's too).</summary>
    public string DataDirectory => _directory.Path;

    /// <summary>What the host is given as DATABASE_URL: null for SQLite (the file in the data directory).</summary>
    public string? Url { get; }

    /// <summary>The SQLite file (SQLite only).</summary>
    public string SqlitePath => Engine == Engine.Sqlite ? _directory.Database : throw new InvalidOperationException("not a SQLite database");

    /// <summary>A store on this database, as the host opens it (not yet initialised).</summary>
    public CallStore Open(TimeProvider? time = null) => TestStores.Open(Engine == Engine.Postgres ? new PostgresDatabase(Url!) : new SqliteDatabase(_directory.Database), time, HostId);

    /// <summary>A connection of the test's own, past any store (whose reads may write what they have queued first).</summary>
    public async Task<System.Data.Common.DbConnection> ConnectAsync()
    {
        System.Data.Common.DbConnection connection = Engine == Engine.Postgres
            ? new Npgsql.NpgsqlConnection(Url)
            : new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_directory.Database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>A host on this database (it leaves the database to this object).</summary>
    public HostFactory Host(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? []);
        all.TryAdd("HOST_ID", HostId);
        return new(all, this);
    }

    public void Dispose() => _directory.Dispose();
}
