using Voice.Control.Media;

namespace Voice.Control.Tests.Media;

public class SpokenTextTests
{
    [TestCase("Backup failed on nas-01.", "Backup failed on nas-01.")]
    [TestCase("  line one\r\nline two\n\n\tend  ", "line one line two end")]
    [TestCase("cost $5 | now", "cost $5 , now")]
    [TestCase("${system(rm -rf /)} and $${hostname}", "$system(rm -rf /) and $$hostname")]
    [TestCase("C:\\path\\file", "C:pathfile")]
    [TestCase("zero\u200Bwidth\u2028separator\0nul", "zerowidth separator nul")]
    [TestCase("Größe 5 °C, café", "Größe 5 °C, café")]
    public void Text_is_spoken_as_written_except_what_could_end_or_expand_the_command(string text, string spoken) =>
        Assert.That(SpokenText.Clean(text), Is.EqualTo(spoken));
}
