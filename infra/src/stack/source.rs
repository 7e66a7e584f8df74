//! The text a stack is read from: one file, or a base file and an environment's overlay (and,
//! for comparing names, the other environments' overlays), each file at its own place in one run
//! of offsets. A span anywhere in the merged document therefore says which file it is in, and
//! every error is reported at that file's line and column, with that file's line as its snippet.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::validate::{FIELD_WIDTH, MESSAGE_WIDTH, StackError, clip, line_col, snippet};

/// One file of a [`Source`].
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Where this file's first byte is among the source's offsets.
    pub start: usize,
}

impl SourceFile {
    /// `span` (the source's offsets) as offsets in this file's text.
    fn local(&self, span: &Range<usize>) -> Range<usize> {
        let len = self.text.len();
        let start = span.start.saturating_sub(self.start).min(len);
        let end = span.end.saturating_sub(self.start).clamp(start, len);
        start..end
    }
}

/// The files a stack is read from; the first is the base (the `--stack` file).
#[derive(Debug)]
pub struct Source {
    files: Vec<SourceFile>,
}

impl Source {
    /// A source of one file.
    pub fn new(path: &Path, text: impl Into<String>) -> Source {
        Source {
            files: vec![SourceFile {
                path: path.to_owned(),
                text: text.into(),
                start: 0,
            }],
        }
    }

    /// Add a file after the others; its offsets start one past the end of the last one's, so an
    /// offset at the end of a file (where a parser reports "unexpected end") stays in it. The
    /// index of the new file.
    pub fn add(&mut self, path: &Path, text: impl Into<String>) -> usize {
        let last = self.files.last().expect("a source has a base file");
        let start = last.start + last.text.len() + 1;
        self.files.push(SourceFile {
            path: path.to_owned(),
            text: text.into(),
            start,
        });
        self.files.len() - 1
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn file(&self, index: usize) -> &SourceFile {
        &self.files[index]
    }

    /// The base file's path.
    pub fn path(&self) -> &Path {
        &self.files[0].path
    }

    /// The file the offset is in.
    pub fn file_at(&self, offset: usize) -> &SourceFile {
        self.files
            .iter()
            .rev()
            .find(|f| f.start <= offset)
            .unwrap_or(&self.files[0])
    }

    /// Where errors of the file at `path` are sorted: in the order of the files, then of their
    /// lines; a file not in the source last.
    pub fn order(&self, path: &Path) -> usize {
        self.files
            .iter()
            .position(|f| f.path == path)
            .unwrap_or(self.files.len())
    }

    /// The file, and the 1-based line and column, of an offset.
    pub fn position(&self, offset: usize) -> (&Path, (usize, usize)) {
        let file = self.file_at(offset);
        let local = file.local(&(offset..offset));
        (&file.path, line_col(&file.text, local.start))
    }

    /// `path:line:col`, as messages name a place in another file.
    pub fn place(&self, offset: usize) -> String {
        let (path, (line, col)) = self.position(offset);
        format!("{}:{line}:{col}", path.display())
    }

    /// The line of `span` with a caret under it ([`snippet`]), in the file it is in.
    pub fn snippet(&self, span: &Range<usize>) -> Option<String> {
        let file = self.file_at(span.start);
        snippet(&file.text, &file.local(span))
    }

    /// Whether the line at `offset` may hold a secret
    /// ([`super::validate::may_hold_a_secret`]), judged in the file it is in.
    pub fn may_hold_a_secret(&self, offset: usize, tables: &[&str]) -> bool {
        let file = self.file_at(offset);
        let local = file.local(&(offset..offset));
        super::validate::may_hold_a_secret(&file.text, local.start, tables)
    }

    /// An error at `span`, in the file it is in; `show`: with the line as a snippet.
    pub fn error(
        &self,
        span: Range<usize>,
        field: &str,
        message: impl AsRef<str>,
        show: bool,
    ) -> StackError {
        let (path, position) = self.position(span.start);
        StackError {
            path: path.to_owned(),
            position: Some(position),
            field: clip(field, FIELD_WIDTH),
            message: clip(message.as_ref(), MESSAGE_WIDTH),
            snippet: show.then(|| self.snippet(&span)).flatten(),
        }
    }

    /// Sort errors in the order of the files, then of their lines.
    pub fn sort(&self, errors: &mut [StackError]) {
        errors.sort_by_key(|e| (self.order(&e.path), e.position));
    }
}
