import Foundation

/// Lists of image files to embed at scale (`cleanclip embed --image-dir / --images-from`).
///
/// The order is the row order of the embeddings written from them, so it is fixed and
/// documented: a folder's images sorted by their path relative to the folder, compared as UTF-8
/// bytes (no locale); a CSV's images in row order.
package enum ImageFiles {
    /// The extensions read from a folder (case-insensitive); the decoders take JPEG and PNG.
    package static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Every JPEG/PNG file under `directory`, recursively (ImageNet-style class folders work),
    /// sorted by relative path as UTF-8 bytes. Hidden files and folders (a name starting with
    /// ".") are skipped; symbolic links to files are followed, links to folders are not
    /// descended. Paths are `directory` + "/" + the relative path.
    package static func directory(_ directory: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw DatasetError(.unreadable, file: directory, "no such folder")
        }
        guard isDir.boolValue else { throw DatasetError(.unreadable, file: directory, "not a folder") }
        let root = URL(fileURLWithPath: directory)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil,
                                                          options: [.skipsHiddenFiles], errorHandler: { _, _ in true }) else {
            throw DatasetError(.unreadable, file: directory, "cannot list the folder")
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        var relative: [String] = []
        for case let url as URL in walker where extensions.contains(url.pathExtension.lowercased()) {
            let path = url.path
            var isFolder: ObjCBool = false  // fileExists follows a link: a link to a file counts
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            relative.append(path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : url.lastPathComponent)
        }
        relative.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return relative.map { base + "/" + $0 }
    }

    /// The images named in column `imageKey` of a CleanCLIP CSV, in row order, resolved against
    /// the CSV's folder as CleanCLIP does (absolute paths kept); every file must exist (the
    /// first missing one is reported with its row).
    package static func csv(_ path: String, imageKey: String = "image", delimiter: Character = ",") throws -> [String] {
        let table = try CSV.read(path: path, delimiter: delimiter)
        let column = try table.column(imageKey)
        let root = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try table.rows.enumerated().map { r, fields in
            try ImageCaptionDataset.resolve(fields[column], root: root, csv: path, row: r + 1, check: true)
        }
    }
}
