use super::*;

#[test]
fn columns_line_up_under_the_widest_cell() {
    let mut table = Table::new(&["ID", "RIR", "NOTE"]);
    table.row(vec!["a".into(), "ripe".into(), "".into()]);
    table.row(vec!["longer-id".into(), "arin".into(), "x y".into()]);
    assert_eq!(
        table.render(),
        "ID         RIR   NOTE\na          ripe\nlonger-id  arin  x y"
    );
}

#[test]
fn short_cuts_long_text_and_joins_lines() {
    assert_eq!(short("a\n b", 10), "a b");
    assert_eq!(short("abcdefghij", 5), "abcd…");
    assert_eq!(short("abcde", 5), "abcde");
}
