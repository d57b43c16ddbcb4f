package dev.lora4j.demo;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The text lora4j's bundled model is made of, generated here from a small grammar with a seeded random
 * source (nothing copied): short children's stories about a dozen characters, their animals and toys,
 * told in the present or the past tense, so the model learns the words of both tenses; each story keeps
 * returning to its own characters, animal, toy and place, so the model learns to repeat what it has read.
 * And the downstream task: given a present-tense sentence, name its verbs in the past tense, which the
 * stories never ask (each story keeps one tense): the model must find the verbs and change their tense.
 */
public final class Stories {
    private static final String[] NAMES = {"Tom", "Anna", "Ben", "Lily", "Max", "Mia", "Sam", "Zoe", "Leo", "Ella", "Jack", "Rosa"};
    private static final String[] ANIMALS = {"dog", "cat", "bird", "fish", "frog", "duck", "cow", "horse", "rabbit", "mouse"};
    private static final String[] THINGS = {"ball", "kite", "book", "box", "hat", "cup", "drum", "boat", "car", "doll", "apple", "cake"};
    private static final String[] ADJECTIVES = {"red", "blue", "green", "yellow", "big", "small", "old", "new"};
    private static final String[] PLACES = {"park", "garden", "house", "forest", "lake", "school", "shop", "beach"};

    /** A verb in the present (third person) and the past. */
    private record Verb(String present, String past) {
        String in(boolean past) {
            return past ? this.past : present;
        }
    }

    private static final Verb GO = new Verb("goes", "went"), RUN = new Verb("runs", "ran"), SEE = new Verb("sees", "saw"),
            FIND = new Verb("finds", "found"), GIVE = new Verb("gives", "gave"), TAKE = new Verb("takes", "took"),
            LIKE = new Verb("likes", "liked"), JUMP = new Verb("jumps", "jumped"),
            MAKE = new Verb("makes", "made"), EAT = new Verb("eats", "ate"), HAVE = new Verb("has", "had"), LOOK = new Verb("looks", "looked"),
            SING = new Verb("sings", "sang"), SMILE = new Verb("smiles", "smiled"), LAUGH = new Verb("laughs", "laughed"), BE = new Verb("is", "was"), WALK = new Verb("walks", "walked");

    private final SplittableRandom rnd;
    /** The story's own animal, thing, adjective and place (null: none, every pick is fresh). */
    private String[] cast;

    public Stories(long seed) {
        rnd = new SplittableRandom(seed);
    }

    private String pick(String[] a) {
        return a[rnd.nextInt(a.length)];
    }

    /**
     * A word of a category: within a story mostly the story's own (so the stories keep coming back to
     * what they introduced, and the model learns to repeat what it has read), else any.
     */
    private String word(String[] category, int which) {
        if (cast != null && rnd.nextInt(4) != 0) return cast[which];
        return pick(category);
    }

    private String animal() {
        return word(ANIMALS, 0);
    }

    private String thing() {
        return word(THINGS, 1);
    }

    private String adjective() {
        return word(ADJECTIVES, 2);
    }

    private String place() {
        return word(PLACES, 3);
    }

    private String other(String[] a, String not) {
        String s;
        do s = pick(a); while (s.equals(not));
        return s;
    }

    /** One sentence about a (and maybe b), in the given tense: of the story kinds or the people-only kinds. */
    public String sentence(String a, String b, boolean past) {
        return rnd.nextInt(3) == 0 ? aboutPeople(a, b, past) : aboutThings(a, b, past);
    }

    /** A sentence about people, their animals, toys and places. */
    private String aboutThings(String a, String b, boolean past) {
        return switch (rnd.nextInt(12)) {
            case 0 -> a + " " + GO.in(past) + " to the " + place() + ".";
            case 1 -> a + " " + SEE.in(past) + " a " + adjective() + " " + animal() + ".";
            case 2 -> a + " " + FIND.in(past) + " a " + adjective() + " " + thing() + " in the " + place() + ".";
            case 3 -> a + " " + GIVE.in(past) + " the " + thing() + " to " + b + ".";
            case 4 -> b + " " + BE.in(past) + " happy.";
            case 5 -> "The " + animal() + " " + RUN.in(past) + " to " + a + ".";
            case 6 -> a + " and " + b + (past ? " played" : " play") + " with the " + thing() + ".";
            case 7 -> a + " " + LIKE.in(past) + " the " + adjective() + " " + thing() + ".";
            case 8 -> a + " " + TAKE.in(past) + " the " + thing() + " and " + (rnd.nextBoolean() ? RUN : WALK).in(past) + " home.";
            case 9 -> a + " " + (rnd.nextBoolean() ? EAT.in(past) + " an apple" : MAKE.in(past) + " a " + adjective() + " cake") + ".";
            case 10 -> a + " " + HAVE.in(past) + " a " + adjective() + " " + animal() + " that " + (rnd.nextBoolean() ? JUMP : SING).in(past) + ".";
            default -> a + " " + LOOK.in(past) + " at the " + animal() + " and " + (rnd.nextBoolean() ? SMILE : LAUGH).in(past) + ".";
        };
    }

    /** A sentence about people only: the kinds the task uses (names to repeat, verbs to change, nothing else free). */
    private String aboutPeople(String a, String b, boolean past) {
        return switch (rnd.nextInt(11)) {
            case 0 -> a + " " + SEE.in(past) + " " + b + ".";
            case 1 -> a + " " + LIKE.in(past) + " " + b + ".";
            case 2 -> a + " " + (rnd.nextBoolean() ? WALK : rnd.nextBoolean() ? RUN : GO).in(past) + " home.";
            case 3 -> a + " " + SING.in(past) + " to " + b + ".";
            case 4 -> a + " " + LOOK.in(past) + " at " + b + " and " + (rnd.nextBoolean() ? SMILE : LAUGH).in(past) + ".";
            case 5 -> a + " " + GIVE.in(past) + " a cake to " + b + ".";
            case 6 -> a + " " + MAKE.in(past) + " a cake for " + b + ".";
            case 7 -> a + " " + FIND.in(past) + " " + b + " in the park.";
            case 8 -> a + " " + TAKE.in(past) + " " + b + " home.";
            case 9 -> a + " " + BE.in(past) + " happy and " + JUMP.in(past) + ".";
            default -> a + " " + EAT.in(past) + " an apple with " + b + ".";
        };
    }

    /** A story of 3 to 6 sentences about two characters, all in one tense. */
    public String story() {
        String a = pick(NAMES), b = other(NAMES, a);
        boolean past = rnd.nextBoolean();
        cast = new String[] {pick(ANIMALS), pick(THINGS), pick(ADJECTIVES), pick(PLACES)};
        int n = 3 + rnd.nextInt(4);
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) s.append(' ');
            s.append(rnd.nextInt(4) == 0 ? sentence(b, a, past) : sentence(a, b, past));
        }
        cast = null;
        return s.toString();
    }

    /** The pretraining text: stories, one a line, until about chars characters. */
    public String corpus(int chars) {
        StringBuilder s = new StringBuilder(chars + 256);
        while (s.length() < chars) s.append(story()).append('\n');
        return s.toString();
    }

    /** One example of the task: the prompt (ending where the answer starts) and the answer. */
    public record Example(String prompt, String answer) {}

    /** The task's prompt for a present-tense sentence. */
    public static String prompt(String present) {
        return "Present: " + present + "\nIn the past:";
    }

    /** The sentence of a task prompt. */
    public static String sentenceOf(String prompt) {
        return prompt.substring("Present: ".length(), prompt.indexOf('\n'));
    }

    /**
     * n distinct task examples, none of whose sentences is in exclude (so held-out prompts are new): a
     * present-tense sentence about people, and as the answer its verbs in the past tense (the words the
     * past-tense telling changes), joined by ", ".
     */
    public List<Example> task(int n, java.util.Set<String> exclude) {
        LinkedHashSet<String> seen = new LinkedHashSet<>();
        List<Example> out = new ArrayList<>();
        for (int tries = 0; out.size() < n; tries++) {
            if (tries > 1000L * n) throw new IllegalArgumentException("cannot find " + n + " distinct task sentences outside the excluded ones");
            String a = pick(NAMES), b = other(NAMES, a);
            long state = rnd.nextLong();
            String present = new Stories(state).aboutPeople(a, b, false), past = new Stories(state).aboutPeople(a, b, true);
            if (exclude.contains(present) || !seen.add(present)) continue;
            String[] pw = present.replace(".", "").split(" "), qw = past.replace(".", "").split(" ");
            List<String> verbs = new ArrayList<>();
            for (int i = 0; i < pw.length; i++) if (!pw[i].equals(qw[i])) verbs.add(qw[i]);
            out.add(new Example(prompt(present), " " + String.join(", ", verbs)));
        }
        return out;
    }
}
