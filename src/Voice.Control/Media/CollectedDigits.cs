namespace Voice.Control.Media;

/// <summary>What <see cref="Endpoint.PlayAndCollectDigitsAsync"/> collected.</summary>
/// <param name="Digits">The keys pressed, terminator excluded; empty when nothing valid came.</param>
/// <param name="Terminator">The terminator key that ended input, if one did.</param>
/// <param name="Result">FreeSWITCH's <c>read_result</c>: <c>success</c>, <c>failure</c> or <c>timeout</c>.</param>
public sealed record CollectedDigits(string Digits, char? Terminator, string Result)
{
    public bool Success => Result == "success" && Digits.Length > 0;
}
