using System.Text.Json;
using Voice.Control.Net;

namespace Voice.Control.Tests.Net;

public class JsonTextTests
{
    [Test]
    public void A_short_document_after_a_long_one_on_the_same_thread_holds_only_its_own_text()
    {
        var long1 = JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("detail", new string('x', 5000));
            json.WriteEndObject();
        });
        var short1 = JsonText.Write(42, static (json, n) =>
        {
            json.WriteStartObject();
            json.WriteNumber("n", n);
            json.WriteEndObject();
        });

        Assert.That(long1, Has.Length.EqualTo(5000 + "{\"detail\":\"\"}".Length));
        Assert.That(short1, Is.EqualTo("{\"n\":42}"));
    }

    [Test]
    public void A_document_that_failed_half_way_leaves_nothing_in_the_next()
    {
        Assert.Throws<InvalidOperationException>(() => JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("half", "written");
            throw new InvalidOperationException("the writer's caller failed");
        }));

        var next = JsonText.Write(json =>
        {
            json.WriteStartArray();
            json.WriteStringValue("ä €");
            json.WriteEndArray();
        });

        Assert.That(JsonDocument.Parse(next).RootElement[0].GetString(), Is.EqualTo("ä €"));
    }

    [Test]
    public void A_document_written_inside_another_does_not_disturb_it()
    {
        var outer = JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("inner", JsonText.Write(inner => inner.WriteStringValue("nested")));
            json.WriteEndObject();
        });

        Assert.That(outer, Is.EqualTo("{\"inner\":\"\\u0022nested\\u0022\"}"));
    }

    [Test]
    public void Threads_writing_at_once_each_get_their_own_documents()
    {
        var results = new string[8];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            for (var round = 0; round < 200; round++)
            {
                results[i] = JsonText.Write(i, static (json, n) =>
                {
                    json.WriteStartObject();
                    json.WriteString("thread", new string((char)('a' + n), 10 + n));
                    json.WriteEndObject();
                });
            }
        });

        Assert.That(results, Is.EqualTo(Enumerable.Range(0, 8).Select(n => $"{{\"thread\":\"{new string((char)('a' + n), 10 + n)}\"}}")));
    }
}
