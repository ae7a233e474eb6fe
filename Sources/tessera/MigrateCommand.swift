import ArgumentParser
import TesseraStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the store, apply pending schema migrations and print the schema version.",
        discussion: "Every command that opens the store migrates it too; this one lets a deployment migrate before starting replicas.")

    @OptionGroup var folders: FolderOptions
    @OptionGroup var store: StoreOption

    func run() async throws {
        let location = store.location(folders)
        let storage: any MigratedStorage
        do {
            storage = try await location.open()
        } catch {
            fail("\(error)")
        }
        let version = try await storage.appliedSchemaVersion()
        try await storage.close()
        print("\(location): schema version \(version)")
    }
}
