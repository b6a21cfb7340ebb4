//! Property tests of the request parser: any split of a valid byte stream
//! yields the same commands, and arbitrary bytes never panic it.

use proptest::prelude::*;
use rudis::protocol::{Parsed, RequestParser};

const MAX_BULK: usize = 512 * 1024 * 1024;

fn encode(commands: &[Vec<Vec<u8>>], inline_mask: &[bool]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let inline_ok = command
            .iter()
            .all(|a| !a.is_empty() && a.iter().all(u8::is_ascii_alphanumeric));
        if inline_ok && inline_mask.get(i).copied().unwrap_or(false) {
            let words: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
            out.extend(words.join(&b' '));
            out.extend(b"\r\n");
        } else {
            out.extend(format!("*{}\r\n", command.len()).as_bytes());
            for arg in command {
                out.extend(format!("${}\r\n", arg.len()).as_bytes());
                out.extend(arg);
                out.extend(b"\r\n");
            }
        }
    }
    out
}

/// Feeds `input` in pieces cut at `cuts`, compacting between pieces as the
/// connection does, and returns the commands and any protocol error.
fn feed(input: &[u8], cuts: &[usize]) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut parser = RequestParser::new();
    let mut commands = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    let mut from = 0;
    for to in points {
        parser.buffer_mut().extend_from_slice(&input[from..to]);
        from = to;
        loop {
            match parser.next(MAX_BULK) {
                Parsed::Incomplete => break,
                Parsed::Command => {
                    commands.push(parser.args().iter().map(<[u8]>::to_vec).collect())
                }
                Parsed::Error(_) => return (commands, true),
            }
        }
        parser.compact();
    }
    (commands, false)
}

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(b'a'..=b'z', 1..10),
        ],
        1..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_split_gives_the_same_commands(
        commands in prop::collection::vec(command(), 1..12),
        inline_mask in prop::collection::vec(any::<bool>(), 12),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let input = encode(&commands, &inline_mask);
        let (whole, err) = feed(&input, &[]);
        prop_assert!(!err);
        prop_assert_eq!(&whole, &commands);
        let (split, err) = feed(&input, &cuts);
        prop_assert!(!err);
        prop_assert_eq!(&split, &commands);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let _ = feed(&bytes, &cuts);
    }

    #[test]
    fn resp_shaped_noise_never_panics(
        pieces in prop::collection::vec(
            prop_oneof![
                Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"\n".to_vec()),
                Just(b"-1".to_vec()), Just(b"2".to_vec()), Just(b"\"".to_vec()), Just(b"'".to_vec()),
                Just(b"\\x".to_vec()), Just(b"ping".to_vec()), Just(vec![0u8]), Just(b"99999999999999999999".to_vec()),
            ],
            0..64,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes: Vec<u8> = pieces.concat();
        let _ = feed(&bytes, &cuts);
    }
}
