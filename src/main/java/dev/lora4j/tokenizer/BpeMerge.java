package dev.lora4j.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The BPE merge loop shared by both tokenizer kinds: repeatedly merge the adjacent pair of lowest rank. */
final class BpeMerge {
    private BpeMerge() {}

    static List<String> merge(List<String> word, Map<String, Integer> ranks) {
        while (word.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer rank = ranks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) break;
            String a = word.get(best), b = word.get(best + 1);
            List<String> next = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); i++) {
                if (i + 1 < word.size() && word.get(i).equals(a) && word.get(i + 1).equals(b)) {
                    next.add(a + b);
                    i++;
                } else {
                    next.add(word.get(i));
                }
            }
            word = next;
        }
        return word;
    }
}
