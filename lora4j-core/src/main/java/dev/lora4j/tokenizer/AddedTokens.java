package dev.lora4j.tokenizer;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Finds added tokens in text, leftmost first and the longest at a position, with a trie over their
 * characters: the work is the text's length times at most the longest token's, however many tokens
 * there are (scanning the text once per token made hundreds of tokens over a long line quadratic).
 */
final class AddedTokens {
    private static final class Node {
        final Map<Character, Node> next = new HashMap<>();
        boolean end;
    }

    private final Node root = new Node();
    private final boolean empty;

    AddedTokens(Set<String> tokens) {
        for (String t : tokens) {
            if (t.isEmpty()) continue;
            Node n = root;
            for (int i = 0; i < t.length(); i++) n = n.next.computeIfAbsent(t.charAt(i), c -> new Node());
            n.end = true;
        }
        empty = root.next.isEmpty();
    }

    /** The first added token at or after from: (start << 32) | length, or −1 when there is none. */
    long next(String text, int from) {
        if (empty) return -1;
        for (int start = from; start < text.length(); start++) {
            Node n = root.next.get(text.charAt(start));
            int longest = 0;
            for (int i = start; n != null; ) {
                if (n.end) longest = i + 1 - start;
                if (++i >= text.length()) break;
                n = n.next.get(text.charAt(i));
            }
            if (longest > 0) return ((long) start << 32) | longest;
        }
        return -1;
    }
}
