using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Voice.Host.Storage;

/// <summary>
/// Read-only connections kept open, each with its statements compiled once: a read that the API does on every
/// request (a call's webhooks, an idempotency key) binds and steps a statement instead of opening a connection
/// and compiling SQL, which was most of its cost.
/// </summary>
internal sealed class SqliteReaders(string connectionString) : IDisposable
{
    private readonly ConcurrentBag<Reader> _idle = [];
    private int _disposed;

    /// <summary>Runs <paramref name="sql"/> with <paramref name="bind"/>'s parameters and reads every row with <paramref name="read"/>.</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, Action<SqliteParameterCollection> bind, Func<SqliteDataReader, T> read)
    {
        var reader = _idle.TryTake(out var idle) ? idle : await Reader.OpenAsync(connectionString);
        try
        {
            var command = reader.Command(sql);
            bind(command.Parameters);
            var rows = new List<T>();
            await using (var result = await command.ExecuteReaderAsync())
            {
                while (await result.ReadAsync())
                {
                    rows.Add(read(result));
                }
            }
            command.Parameters.Clear();
            Return(reader);
            return rows;
        }
        catch
        {
            reader.Dispose(); // in an unknown state: not reused
            throw;
        }
    }

    private void Return(Reader reader)
    {
        if (Volatile.Read(ref _disposed) == 1)
        {
            reader.Dispose();
            return;
        }
        _idle.Add(reader);
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _disposed, 1);
        while (_idle.TryTake(out var reader))
        {
            reader.Dispose();
        }
    }

    private sealed class Reader(SqliteConnection connection) : IDisposable
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

        public static async Task<Reader> OpenAsync(string connectionString)
        {
            var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync();
            return new Reader(connection);
        }

        public SqliteCommand Command(string sql)
        {
            if (!_commands.TryGetValue(sql, out var command))
            {
                command = connection.CreateCommand();
                command.CommandText = sql;
                command.Prepare();
                _commands[sql] = command;
            }
            return command;
        }

        public void Dispose()
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }
            connection.Dispose();
        }
    }
}
