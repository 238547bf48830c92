using System.Data.Common;
using Dapper;
using Npgsql;

namespace Voice.Host.Storage;

/// <summary>
/// PostgreSQL, for several hosts sharing one database: connections from Npgsql's pool, statements prepared
/// automatically on each connection, migrations serialised across hosts with an advisory lock.
/// </summary>
public sealed class PostgresDatabase : StoreDatabase
{
    /// <summary>The advisory lock the migrations take (an arbitrary number of VoiceBridge's).</summary>
    private const long MigrationLock = 0x566f696365;

    private readonly NpgsqlDataSource _source;

    /// <param name="connectionString">Npgsql's <c>Host=…;Database=…</c> form, or a URL (<c>postgres://user:password@host:port/database</c>).</param>
    public PostgresDatabase(string connectionString)
    {
        var builder = Parse(connectionString);
        // Statements used again and again (every write, every GET of a call) are prepared on each pooled connection.
        builder.MaxAutoPrepare = builder.MaxAutoPrepare == 0 ? 64 : builder.MaxAutoPrepare;
        builder.ApplicationName ??= "VoiceBridge";
        Description = $"{builder.Host}:{builder.Port}/{builder.Database}";
        _source = NpgsqlDataSource.Create(builder);
    }

    /// <summary>Where it is, without the credentials: for logs and errors.</summary>
    public string Description { get; }

    public override string Engine => "postgresql";

    public override bool Shared => true;

    internal override string? NotifySql => "SELECT pg_notify(@channel, @payload)";

    public override async Task ListenAsync(IReadOnlyList<string> channels, Action<string, string> heard, CancellationToken stoppingToken)
    {
        await using var connection = await _source.OpenConnectionAsync(stoppingToken);
        connection.Notification += (_, e) => heard(e.Channel, e.Payload);
        foreach (var channel in channels)
        {
            await using var listen = new NpgsqlCommand($"LISTEN {channel}", connection);
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }
        while (true)
        {
            await connection.WaitAsync(stoppingToken);
        }
    }

    internal override IReadOnlyList<Migration> Migrations { get; } =
    [
        Migration.Sql(1, "calls, history, outbox, keys, counts, alerts, agents", Schema.PostgresBaseline),
        Migration.Sql(2, "hosts: owners, claims, leases, pacing", Schema.Hosts),
        Migration.Sql(3, "dashboard sessions", Schema.Sessions),
    ];

    /// <summary>True for what names a PostgreSQL database: a <c>postgres://</c> or <c>postgresql://</c> URL, or Npgsql's form (<c>Host=…</c>).</summary>
    public static bool Names(string connectionString) =>
        connectionString.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || connectionString.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase) || connectionString.Contains("Server=", StringComparison.OrdinalIgnoreCase);

    /// <exception cref="ArgumentException">Neither form, or a setting Npgsql does not know.</exception>
    public static NpgsqlConnectionStringBuilder Parse(string connectionString)
    {
        if (!Uri.TryCreate(connectionString, UriKind.Absolute, out var url) || url.Scheme is not ("postgres" or "postgresql"))
        {
            return new NpgsqlConnectionStringBuilder(connectionString);
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = url.Host,
            Port = url.IsDefaultPort || url.Port <= 0 ? 5432 : url.Port,
            Database = Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/')) is { Length: > 0 } database ? database : null,
        };
        if (url.UserInfo.Split(':', 2) is [var user, ..] && user.Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(user);
            if (url.UserInfo.Split(':', 2) is [_, var password])
            {
                builder.Password = Uri.UnescapeDataString(password);
            }
        }
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = pair.Split('=', 2) is [var k, var v] ? (Uri.UnescapeDataString(k), Uri.UnescapeDataString(v)) : (Uri.UnescapeDataString(pair), "true");
            builder[key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? "SSL Mode" : key] = value;
        }
        return builder;
    }

    public override async Task<DbConnection> OpenAsync() => await _source.OpenConnectionAsync();

    internal override async Task<List<T>> ReadAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> parameters, Func<DbDataReader, T> read)
    {
        await using var connection = await _source.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        var rows = new List<T>();
        await using var result = await command.ExecuteReaderAsync();
        while (await result.ReadAsync())
        {
            rows.Add(read(result));
        }
        return rows;
    }

    /// <remarks>
    /// What Npgsql calls transient (a connection lost or refused, a timeout), and the server's own conditions of that kind:
    /// shutting down, too many connections, a serialization failure, a deadlock. Not a constraint or malformed data.
    /// </remarks>
    public override bool IsTransient(Exception error) => error switch
    {
        PostgresException server => server.IsTransient || server.SqlState.StartsWith("08", StringComparison.Ordinal) || server.SqlState.StartsWith("53", StringComparison.Ordinal)
            || server.SqlState.StartsWith("57", StringComparison.Ordinal) || server.SqlState is "40001" or "40P01",
        NpgsqlException or IOException or TimeoutException => true,
        // A connection that broke mid-command is left in a state no command may use: the next attempt opens another.
        InvalidOperationException => true,
        _ => false,
    };

    internal override string DayOf(string unixMilliseconds) => $"to_char(to_timestamp(({unixMilliseconds}) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

    internal override string DayStart(string day) => $"CAST(EXTRACT(EPOCH FROM CAST({day} AS DATE)) * 1000 AS BIGINT)";

    protected override DbConnection OpenWriter() => _source.OpenConnection();

    protected override Task LockSchemaAsync(DbConnection connection, DbTransaction transaction) =>
        connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@lock)", new { @lock = MigrationLock }, transaction);

    public override void Dispose()
    {
        base.Dispose();
        _source.Dispose();
    }
}
