using System.Data;
using System.Data.Common;
using Dapper;

namespace Voice.Host.Storage;

/// <summary>One change of the schema: its version, what it does, and how (in the migrations' transaction).</summary>
internal sealed record Migration(int Version, string Name, Func<DbConnection, DbTransaction, Task> Apply)
{
    public static Migration Sql(int version, string name, string sql) => new(version, name, (connection, transaction) => connection.ExecuteAsync(sql, transaction: transaction));
}

/// <summary>
/// The database under a <see cref="CallStore"/>: how to connect, the migrations of its schema, and the bits of SQL
/// that differ between engines. Writes go through one connection kept open (<see cref="Locked{T}"/>), used by the
/// store's write thread only; reads take connections of their own.
/// </summary>
public abstract class StoreDatabase : IDisposable
{
    /// <summary>The table that says which migrations were made.</summary>
    private const string MigrationsTable = "schema_migrations";

    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private DbConnection? _writer;
    private long _commits;

    /// <summary><c>sqlite</c> or <c>postgresql</c>.</summary>
    public abstract string Engine { get; }

    /// <summary>Whether several hosts may share this database (PostgreSQL); SQLite belongs to one host.</summary>
    public virtual bool Shared => false;

    /// <summary>
    /// Tells every host listening on channel <c>@channel</c> (see <see cref="ListenAsync"/>) <c>@payload</c> when the transaction commits:
    /// SQL for inside a write transaction, or null where there are no other hosts to tell.
    /// </summary>
    internal virtual string? NotifySql => null;

    /// <summary>
    /// Hands <paramref name="heard"/> every notification on <paramref name="channels"/> (channel, payload) until
    /// <paramref name="stoppingToken"/>; where there are no other hosts, waits for the token alone. Throws when the
    /// connection is lost (the caller listens again).
    /// </summary>
    public virtual Task ListenAsync(IReadOnlyList<string> channels, Action<string, string> heard, CancellationToken stoppingToken) =>
        Task.Delay(Timeout.Infinite, stoppingToken);

    /// <summary>
    /// Whether a write that failed with <paramref name="error"/> may succeed if tried again: the database went away, was
    /// busy, or timed out. A refusal of the data itself (a constraint, a malformed statement) would fail again forever.
    /// </summary>
    public abstract bool IsTransient(Exception error);

    /// <summary>Write transactions committed so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>The schema version this build knows: the last of <see cref="Migrations"/>.</summary>
    internal int LatestVersion => Migrations[^1].Version;

    /// <summary>The schema's changes, oldest first; each runs once per database.</summary>
    internal abstract IReadOnlyList<Migration> Migrations { get; }

    /// <summary>A connection for reads and occasional writes outside the write thread, opened (the caller disposes of it).</summary>
    public abstract Task<DbConnection> OpenAsync();

    /// <summary>A read that runs on every request (a call's webhooks): the engine's cheapest way to run it.</summary>
    internal abstract Task<List<T>> ReadAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> parameters, Func<DbDataReader, T> read);

    /// <summary>SQL: the UTC day (<c>YYYY-MM-DD</c>) of an expression in Unix milliseconds.</summary>
    internal abstract string DayOf(string unixMilliseconds);

    /// <summary>SQL: the Unix milliseconds at the start of a <c>YYYY-MM-DD</c> day (UTC).</summary>
    internal abstract string DayStart(string day);

    /// <summary>
    /// What the engine does in the background while the host runs (SQLite: checkpoints), until <paramref name="stoppingToken"/>;
    /// <paramref name="failed"/> is told of what went wrong (the host logs it), and the work goes on.
    /// </summary>
    public virtual Task MaintainAsync(Action<Exception> failed, CancellationToken stoppingToken) => Task.CompletedTask;

    /// <summary>Opens the connection the write thread keeps.</summary>
    protected abstract DbConnection OpenWriter();

    /// <summary>Before the migrations' transaction (SQLite: the journal mode, which no transaction may change).</summary>
    protected virtual Task PrepareAsync(DbConnection connection) => Task.CompletedTask;

    /// <summary>First in the migrations' transaction: another host's migrations wait until these commit.</summary>
    protected virtual Task LockSchemaAsync(DbConnection connection, DbTransaction transaction) => Task.CompletedTask;

    /// <summary>
    /// Makes the migrations this database has not had, in one transaction that hosts starting at once take in turn
    /// (the second finds them made). Returns the schema version. A database of a newer build is left as it is: its
    /// migrations only add, so this build goes on with the tables it knows.
    /// </summary>
    public async Task<int> MigrateAsync()
    {
        await using var connection = await OpenAsync();
        await PrepareAsync(connection);
        await using var transaction = await connection.BeginTransactionAsync();
        await LockSchemaAsync(connection, transaction);
        await connection.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {MigrationsTable} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)", transaction: transaction);
        var version = (int)await connection.ExecuteScalarAsync<long>($"SELECT COALESCE(MAX(version), 0) FROM {MigrationsTable}", transaction: transaction);
        foreach (var migration in Migrations.Where(m => m.Version > version))
        {
            await migration.Apply(connection, transaction);
            await connection.ExecuteAsync($"INSERT INTO {MigrationsTable} (version, name, applied_at) VALUES (@Version, @Name, @at)",
                new { migration.Version, migration.Name, at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, transaction);
            version = migration.Version;
        }
        await transaction.CommitAsync();
        return version;
    }

    /// <summary>
    /// Runs <paramref name="write"/> on the writer connection under the write lock (the write thread calls it; SQLite's
    /// checkpoint takes the lock too). A connection the write broke (the server went away) is dropped, and the next
    /// write opens another.
    /// </summary>
    internal T Locked<T>(Func<DbConnection, T> write)
    {
        _write.Wait();
        try
        {
            _writer ??= OpenWriter();
            return write(_writer);
        }
        catch (DbException) when (_writer is { State: not ConnectionState.Open })
        {
            DropWriter();
            throw;
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>The writer as it is, under the write lock, without opening one (SQLite's checkpoint).</summary>
    protected T WithWriter<T>(Func<DbConnection?, T> job)
    {
        _write.Wait();
        try
        {
            return job(_writer);
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>A write transaction committed (see <see cref="Commits"/>).</summary>
    internal void Committed() => Interlocked.Increment(ref _commits);

    /// <summary>
    /// A command on the writer connection, made once per SQL text and re-bound afterwards: preparing is most of the cost
    /// of a small write. Callers hold the write lock.
    /// </summary>
    internal DbCommand Command(DbTransaction transaction, string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _writer!.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }
        command.Transaction = transaction;
        return command;
    }

    /// <summary>Sets a command's parameters by name (<c>@name</c>, which both engines read); null is SQL NULL.</summary>
    internal static void Bind(DbCommand command, params (string Name, object? Value)[] values)
    {
        foreach (var (name, value) in values)
        {
            if (command.Parameters.Contains(name))
            {
                command.Parameters[name].Value = value ?? DBNull.Value;
            }
            else
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                parameter.Value = value ?? DBNull.Value;
                command.Parameters.Add(parameter);
            }
        }
    }

    private void DropWriter()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }
        _commands.Clear();
        _writer?.Dispose();
        _writer = null;
    }

    public virtual void Dispose()
    {
        _write.Wait();
        try
        {
            DropWriter();
        }
        finally
        {
            _write.Release();
        }
        GC.SuppressFinalize(this);
    }
}
