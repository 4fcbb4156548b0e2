using System.Text.Json;
using BenchmarkDotNet.Attributes;
using MessagingPatterns.Benchmarks.Sqlite;
using MessagingPatterns.PostgreSql;
using Npgsql;

namespace MessagingPatterns.Benchmarks.PostgreSql;

/// <summary>
/// 1 producer × 2 competing consumers, 100,000 messages end to end, through the store beside a direct Npgsql
/// baseline doing the same at-least-once work: batched insert (100 per statement), a <c>FOR UPDATE SKIP LOCKED</c>
/// batch lease (100) with a token and an end on the database clock, then a delete by id and token. The store also
/// serializes bodies (System.Text.Json); its consumers ack what one receive returned with one
/// <see cref="IMessageStore{TMessage}.AckBatchAsync"/> (one DELETE), as the baseline deletes its batch in one
/// statement. One operation is one message: msgs/s = 1e9 / Mean(ns).
/// </summary>
[InvocationCount(1, 1)]
public class PostgreSqlEndToEndBenchmarks
{
    private const int Messages = 100_000;
    private const int Batch = 100;
    private const int Consumers = 2;

    private string _schema = null!;
    private NpgsqlDataSource _dataSource = null!;
    private IMessageStore<BenchMessage> _store = null!;
    private string _queue = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _schema = BenchPostgres.NewSchema();
        _dataSource = NpgsqlDataSource.Create(BenchPostgres.ConnectionString);
        _store = PostgreSqlMessageStore.Create<BenchMessage>("bench", BenchPostgres.Options(_schema));
        await _store.GetStatisticsAsync();

        // The baseline's table: the same columns and index as the store's.
        await BenchPostgres.ExecuteAsync(_dataSource, BenchPostgres.BaselineTable(_schema));
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        await _dataSource.DisposeAsync();
        await BenchPostgres.DropAsync(_schema);
    }

    [IterationSetup]
    public void NextQueue() => _queue = $"q{Random.Shared.Next()}";

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "direct Npgsql, 1 producer × 2 consumers")]
    public async Task DirectNpgsql()
    {
        var producing = Task.Run(async () =>
        {
            for (var start = 0; start < Messages; start += Batch)
            {
                var ids = new string[Batch];
                var bodies = new byte[Batch][];
                for (var i = 0; i < Batch; i++)
                {
                    ids[i] = $"m-{start + i}";
                    bodies[i] = JsonSerializer.SerializeToUtf8Bytes(new BenchMessage(start + i, "payload"));
                }

                await using var insert = _dataSource.CreateCommand($"""
                    INSERT INTO "{_schema}".baseline (queue, id, priority, body, enqueued_at, visible_at)
                    SELECT $1, u.id, 0, u.body, now(), now() FROM unnest($2::text[], $3::bytea[]) AS u(id, body)
                    """);
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _queue });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
                insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = bodies });
                await insert.ExecuteNonQueryAsync();
            }
        });

        var consumed = 0;
        var consuming = Enumerable.Range(0, Consumers).Select(consumer => Task.Run(async () =>
        {
            while (Volatile.Read(ref consumed) < Messages)
            {
                var token = Random.Shared.NextInt64();
                var seqs = new List<long>(Batch);
                await using (var lease = _dataSource.CreateCommand($"""
                    WITH picked AS (
                        SELECT seq FROM "{_schema}".baseline WHERE queue = $1 AND visible_at <= now()
                        ORDER BY priority DESC, seq LIMIT {Batch} FOR UPDATE SKIP LOCKED)
                    UPDATE "{_schema}".baseline AS b SET lease_token = $2, visible_at = now() + interval '5 minutes',
                        delivery_count = b.delivery_count + 1
                    FROM picked WHERE b.seq = picked.seq RETURNING b.seq, b.body
                    """))
                {
                    lease.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _queue });
                    lease.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token });
                    await using var reader = await lease.ExecuteReaderAsync();
                    while (await reader.ReadAsync())
                    {
                        seqs.Add(reader.GetInt64(0));
                        _ = JsonSerializer.Deserialize<BenchMessage>(reader.GetFieldValue<byte[]>(1));
                    }
                }

                if (seqs.Count == 0)
                {
                    await Task.Yield();
                    continue;
                }

                await using var delete = _dataSource.CreateCommand($"""
                    DELETE FROM "{_schema}".baseline WHERE seq = ANY($1) AND lease_token = $2 AND visible_at > now()
                    """);
                delete.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seqs.ToArray() });
                delete.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token });
                await delete.ExecuteNonQueryAsync();
                Interlocked.Add(ref consumed, seqs.Count);
            }
        })).ToArray();

        await producing;
        await Task.WhenAll(consuming);
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "PostgreSQL store, 1 producer × 2 consumers")]
    public async Task Store()
    {
        // A queue of the iteration's own, through a store instance made for it, so iterations do not share rows.
        await using var store = PostgreSqlMessageStore.Create<BenchMessage>(_queue, BenchPostgres.Options(_schema));
        var producing = Task.Run(async () =>
        {
            for (var start = 0; start < Messages; start += Batch)
            {
                var batch = new Message<BenchMessage>[Batch];
                for (var i = 0; i < Batch; i++)
                {
                    batch[i] = new Message<BenchMessage>(new BenchMessage(start + i, "payload"), $"m-{start + i}");
                }

                await store.EnqueueBatchAsync(batch);
            }
        });

        var consumed = 0;
        using var done = new CancellationTokenSource();
        var consuming = Enumerable.Range(0, Consumers).Select(consumer => Task.Run(async () =>
        {
            var buffer = new Delivery<BenchMessage>[Batch];
            var leases = new LeaseToken[Batch];
            while (true)
            {
                int received;
                try
                {
                    received = await store.ReceiveAsync(buffer, TimeSpan.FromMinutes(5), done.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                for (var i = 0; i < received; i++)
                {
                    leases[i] = buffer[i].Lease;
                }

                await store.AckBatchAsync(new ArraySegment<LeaseToken>(leases, 0, received));
                if (Interlocked.Add(ref consumed, received) >= Messages)
                {
                    await done.CancelAsync();
                }
            }
        })).ToArray();

        await producing;
        await Task.WhenAll(consuming);
    }
}
