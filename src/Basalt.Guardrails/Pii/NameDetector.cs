using System.Text.RegularExpressions;

namespace Basalt.Guardrails.Pii;

/// <summary>NAME: capitalized words read with census first-name and surname lists (data/guardrails/pii) and context.
/// A name is (1) a title and capitalized words ("Dr. Alice Moreau", "Mr Okafor"); (2) a listed first name followed by
/// a capitalized word that is not a place or calendar word ("John Smith", "Maria J. Lopez"); or (3) a listed first
/// name alone after a cue ("my name is Sarah", "Dear Tom,", "thanks, Priya") that is not also a common English word
/// ("Will", "May", "Grace" need a surname or a cue to count).</summary>
internal static class NameDetector
{
    private const int Priority = 30;

    private static readonly Lazy<HashSet<string>> FirstNames = new(() => Load("first-names.txt"));
    private static readonly Lazy<HashSet<string>> Surnames = new(() => Load("surnames.txt"));

    private static readonly HashSet<string> Titles = new(StringComparer.Ordinal)
    {
        "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Professor", "Sir", "Dame", "Madam", "Rev", "Capt", "Captain",
        "Judge", "Senator", "Officer", "Detective", "Sgt", "Lt", "Col", "Gen", "Coach", "Nurse", "Father", "Sister",
    };

    // Capitalized words that follow a first name without being a surname ("Will Street", "Grace Church", "Jordan River").
    private static readonly HashSet<string> NotSurnames = new(StringComparer.Ordinal)
    {
        "Street", "St", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Boulevard", "Court", "Way", "Place", "Park",
        "River", "Lake", "Mountain", "Church", "School", "University", "College", "Hospital", "County", "City", "Hall",
        "Center", "Centre", "Bank", "Company", "Inc", "Corp", "Group", "Foundation", "Institute", "Museum", "Bridge",
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March",
        "April", "May", "June", "July", "August", "September", "October", "November", "December", "The", "And", "Or",
        "But", "If", "In", "On", "At", "To", "For", "Of", "With", "From", "By", "As", "Is", "Was", "Are", "Be", "I",
        "We", "You", "He", "She", "It", "They", "This", "That", "These", "Those", "My", "Your", "Our", "Their", "His", "Her",
        "Please", "Thanks", "Thank", "Hello", "Hi", "Dear", "Yes", "No", "Not", "All", "Any", "Some", "Every", "Each",
        "North", "South", "East", "West", "New", "Old", "Big", "Great", "Little", "Saint", "Fort", "Mount", "Port",
        "Airport", "Station", "Island", "Beach", "Valley", "Hill", "Hills", "Road", "Square", "Market", "Mall", "Store",
        "Service", "Services", "Team", "Department", "Office", "Ltd", "LLC", "Day", "Week", "Month", "Year",
    };

    // First names that are also everyday words, months or places: alone they are a name only after a cue.
    private static readonly HashSet<string> Ambiguous = new(StringComparer.OrdinalIgnoreCase)
    {
        "will", "may", "june", "april", "august", "grace", "hope", "joy", "faith", "mark", "bill", "rose", "ivy", "iris",
        "dawn", "summer", "autumn", "sunny", "crystal", "amber", "ruby", "pearl", "jade", "rich", "frank", "art", "guy",
        "buck", "chase", "drew", "miles", "norman", "rob", "sue", "pat", "don", "ray", "jack", "jean", "gene", "major",
        "king", "earl", "duke", "lane", "dean", "page", "paris", "london", "sydney", "austin", "dallas", "houston",
        "jordan", "israel", "china", "asia", "georgia", "virginia", "carolina", "florida", "india", "kenya", "holly",
        "olive", "violet", "lily", "daisy", "heather", "ginger", "candy", "honey", "baby", "angel", "star", "sky", "rain",
        "storm", "an", "in", "le", "la", "ok", "so", "do", "be", "sol", "tom", "van", "della", "young", "long", "white",
        "black", "brown", "green", "gray", "grey", "price", "cash", "penny", "precious", "destiny", "harmony", "melody",
        "trinity", "christian", "christmas", "easter", "sunday", "monday", "friday", "tuesday", "wednesday", "thursday",
        "saturday", "january", "february", "march", "july", "september", "october", "november", "december", "nice",
        "else", "hunter", "carter", "cook", "baker", "fisher", "mason", "taylor", "porter", "joe", "sam", "max",
        "son", "many", "love", "lucky", "happy", "bob", "nick", "ali", "adam", "eve", "job", "tim",
    };

    private static readonly string[] Cues =
    [
        "name is", "name's", "named", "called", "i am", "i'm", "this is", "dear", "hi", "hello", "hey", "thanks",
        "thank you", "regards", "sincerely", "cheers", "best", "signed", "contact", "ask", "met", "told", "from", "with",
        "by", "patient", "customer", "employee", "client", "applicant", "tenant", "student", "mr", "ms", "mrs",
    ];

    // Cues after which any capitalized word is a name, listed or not.
    private static readonly string[] StrongCues = ["name is", "name's", "named", "called", "i am", "i'm", "this is", "dear", "regards", "sincerely", "signed"];

    private static HashSet<string> Load(string file)
    {
        using Stream stream = typeof(NameDetector).Assembly.GetManifestResourceStream("Basalt.Guardrails.Pii." + file)
            ?? throw new InvalidOperationException($"The name list resource {file} is missing from Basalt.Guardrails.");
        using var reader = new StreamReader(stream);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            line = line.Trim();
            if (line.Length > 1 && line[0] != '#')
                names.Add(line);
        }
        return names;
    }

    public static void Detect(string text, List<PiiCandidate> found)
    {
        HashSet<string> first = FirstNames.Value, last = Surnames.Value;
        // The capitalized words of the text, in order, with whether each is adjacent to the previous one.
        var words = new List<(int Start, int Length)>();
        foreach (ValueMatch m in PiiPatterns.CapitalizedWord().EnumerateMatches(text))
            words.Add((m.Index, m.Length));

        int i = 0;
        while (i < words.Count)
        {
            (int start, int length) = words[i];
            string word = text.Substring(start, length).TrimEnd('.');

            // Title + up to three capitalized words: the words are the name.
            if (Titles.Contains(word) && i + 1 < words.Count && Adjacent(text, words[i], words[i + 1]) && !IsInitial(text, words[i + 1]))
            {
                int end = Extend(text, words, i + 1, 3, first, last, requireListed: false);
                Add(found, words, i + 1, end);
                i = end;
                continue;
            }

            if (word.Length >= 2 && first.Contains(word) && !NotSurnames.Contains(word))
            {
                // First name + surname (optionally a middle initial or name).
                if (i + 1 < words.Count && Adjacent(text, words[i], words[i + 1]))
                {
                    int end = Extend(text, words, i + 1, 2, first, last, requireListed: Ambiguous.Contains(word));
                    if (end > i + 1)
                    {
                        Add(found, words, i, end);
                        i = end;
                        continue;
                    }
                }
                // A first name alone, after a cue, and not a sentence's first word only because of its capital.
                if (!Ambiguous.Contains(word) ? HasCue(text, start, Cues) || MidSentence(text, start) : HasCue(text, start, Cues))
                {
                    Add(found, words, i, i + 1);
                    i++;
                    continue;
                }
            }
            else if (word.Length >= 2 && !NotSurnames.Contains(word) && !Ambiguous.Contains(word))
            {
                // A first name the lists lack: before a listed surname mid-sentence ("notes by Priya Ramirez"), or alone
                // after a strong cue ("my name is Priya").
                if (i + 1 < words.Count && Adjacent(text, words[i], words[i + 1]) && MidSentence(text, start)
                    && last.Contains(text.Substring(words[i + 1].Start, words[i + 1].Length)) && !IsInitial(text, words[i + 1])
                    && !NotSurnames.Contains(text.Substring(words[i + 1].Start, words[i + 1].Length)))
                {
                    Add(found, words, i, i + 2);
                    i += 2;
                    continue;
                }
                if (HasCue(text, start, StrongCues) && !last.Contains(word) || HasCue(text, start, StrongCues) && last.Contains(word) && HasCue(text, start, ["name is", "named", "called"]))
                {
                    int end = i + 1 < words.Count && Adjacent(text, words[i], words[i + 1]) ? Extend(text, words, i + 1, 2, first, last, requireListed: true) : i + 1;
                    Add(found, words, i, Math.Max(end, i + 1));
                    i = Math.Max(end, i + 1);
                    continue;
                }
            }
            i++;
        }
    }

    // Extends a name over following capitalized words: initials and listed names; unlisted capitalized words count
    // unless requireListed. Returns the index one past the last word of the name.
    private static int Extend(string text, List<(int Start, int Length)> words, int from, int max, HashSet<string> first,
        HashSet<string> last, bool requireListed)
    {
        int end = from;
        while (end < words.Count && end - from < max && (end == from || Adjacent(text, words[end - 1], words[end])))
        {
            string w = text.Substring(words[end].Start, words[end].Length);
            if (NotSurnames.Contains(w.TrimEnd('.')))
                break;
            bool initial = IsInitial(text, words[end]);
            if (requireListed && !initial && !last.Contains(w))
                break;
            end++;
            if (!initial && end - from >= 1 && (last.Contains(w) || !first.Contains(w)))
            {
                // A surname closes the name unless another listed surname follows ("Mary Ann Smith-Jones").
                if (end < words.Count && end - from < max && Adjacent(text, words[end - 1], words[end])
                    && last.Contains(text.Substring(words[end].Start, words[end].Length)))
                    continue;
                break;
            }
        }
        // A name does not end on a bare initial.
        while (end > from && IsInitial(text, words[end - 1]))
            end--;
        return end;
    }

    private static bool IsInitial(string text, (int Start, int Length) word) => word.Length == 2 && text[word.Start + 1] == '.';

    private static bool Adjacent(string text, (int Start, int Length) a, (int Start, int Length) b)
    {
        int gap = b.Start - (a.Start + a.Length);
        if (gap is < 1 or > 2)
            return false;
        for (int k = a.Start + a.Length; k < b.Start; k++)
        {
            if (text[k] is not (' ' or '.'))
                return false;
        }
        return true;
    }

    private static bool HasCue(string text, int start, string[] cues)
    {
        int from = Math.Max(0, start - 24);
        ReadOnlySpan<char> before = text.AsSpan(from, start - from).TrimEnd(" ,:-\t");
        foreach (string cue in cues)
        {
            if (before.EndsWith(cue, StringComparison.OrdinalIgnoreCase)
                && (before.Length == cue.Length || !char.IsLetter(before[before.Length - cue.Length - 1])))
                return true;
        }
        return false;
    }

    // Capitalized but not at the start of a sentence or line: the capital says "proper noun".
    private static bool MidSentence(string text, int start)
    {
        int k = start - 1;
        while (k >= 0 && text[k] is ' ' or '\t' or '"' or '\'' or '(')
            k--;
        return k >= 0 && (char.IsLetterOrDigit(text[k]) || text[k] == ',');
    }

    private static void Add(List<PiiCandidate> found, List<(int Start, int Length)> words, int from, int to)
    {
        if (to <= from)
            return;
        int start = words[from].Start;
        int end = words[to - 1].Start + words[to - 1].Length;
        found.Add(new PiiCandidate("NAME", start, end - start, Priority));
    }
}
