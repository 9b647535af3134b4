package plan

// Word lists the clause parser reads. All lowercase ASCII.
var (
	// fillers open a request without saying what to build.
	fillers = set("i", "we", "you", "want", "wants", "need", "needs", "would", "like", "d", "please",
		"build", "create", "make", "generate", "write", "design", "develop", "code", "give", "me", "us",
		"to", "lets", "let", "could", "will", "also", "then", "just", "so", "now", "and", "hi",
		"hello", "hey", "basically", "simply", "help", "implement", "setup", "am", "looking",
		"im", "ll", "ve", "should", "can", "must", "be", "able", "there", "is", "are")
	determiners = set("a", "an", "the", "each", "every", "all", "any", "my", "our", "your", "their",
		"its", "his", "her", "this", "that", "these", "those", "one", "some", "single", "own", "also",
		"and", "plus", "then", "other", "whose", "it")
	quantifiers = set("many", "multiple", "several", "numerous", "various", "few")
	containers  = set("list", "set", "collection", "series", "bunch", "group", "kinds",
		"types", "sorts", "lot")
	// collections hold entities: "my book collection", "an inventory of tools".
	collections = set("collection", "library", "catalog", "catalogue", "inventory", "database",
		"log", "history", "archive", "register", "registry", "directory", "list", "stack", "pile")
	// appNouns name the thing being built and are left out of its name.
	appNouns = set("app", "apps", "application", "api", "apis", "service", "system", "backend",
		"tool", "platform", "website", "site", "webapp", "program", "software", "portal",
		"dashboard", "server", "solution", "database", "db", "interface", "frontend", "microservice",
		"crud")
	// keptAppNouns name the thing being built and stay in its name:
	// "expense tracker" → expense_tracker.
	keptAppNouns = set("tracker", "manager", "planner", "organizer", "organiser", "log", "logger",
		"journal", "diary", "catalog", "catalogue", "inventory", "registry", "directory", "crm",
		"erp", "shop", "store", "marketplace", "blog", "forum", "wiki", "cms", "scheduler", "list",
		"board", "hub", "library", "watchlist", "wishlist", "checklist", "logbook", "notebook",
		"calendar", "portfolio", "ledger", "guestbook", "helpdesk", "desk", "shortener")
	// appAdjectives describe the app and are left out of its name.
	appAdjectives = set("simple", "small", "basic", "tiny", "minimal", "quick", "little", "new",
		"personal", "web", "online", "rest", "restful", "json", "http", "crud", "mobile", "cool",
		"nice", "full", "complete", "modern", "internal", "private", "shared", "lightweight", "self",
		"hosted", "sample", "demo", "example", "kiln", "go", "golang", "fullstack", "stack",
		"great", "good", "fancy", "clean", "secure", "backend", "based", "style", "like", "super",
		"very", "really", "easy", "tool", "free", "open", "source", "crud", "db", "sqlite")
	// appConnectors follow the app noun and lead to what it holds.
	appConnectors = set("with", "for", "to", "that", "which", "where", "of", "about", "containing",
		"including", "having", "has", "have", "holding", "covering", "around", "featuring",
		"managing", "tracking", "storing", "listing", "handling", "so", "allowing", "lets",
		"letting", "who", "in", "helps", "help", "and", ":", "should", "can", "will", "must", "is",
		"needs", "whose")
	// clauseConnectors after the app noun start a sentence of their own.
	clauseConnectors = set("where", "so", "allowing", "lets", "letting", "who", "whose", "helps")
	// manageVerbs lead to the things the app keeps: "track expenses".
	manageVerbs = set("track", "tracks", "tracking", "manage", "manages", "managing", "store",
		"storing", "record", "recording", "log", "logging", "keep", "keeps",
		"keeping", "organize", "organizes", "organizing", "organise", "catalog", "catalogue",
		"cataloging", "list", "listing", "handle", "handles", "handling", "maintain", "maintains",
		"save", "saves", "monitor", "monitors", "collect", "collects", "register", "administer",
		"plan", "planning", "schedule", "scheduling", "rent", "sell", "selling", "share", "run",
		"browse", "add", "edit", "view", "crud", "hold", "holds", "of", "about", "on", "up",
		"booking", "reserving", "renting", "lending", "borrowing", "sharing", "buying", "ordering",
		"selling", "storing", "organizing", "cataloguing", "recording", "hosting")
	// haveVerbs introduce a list of fields (or of owned things).
	haveVerbs = set("has", "have", "having", "with", "contains", "contain", "containing", "includes",
		"include", "including", "holds", "hold", "needs", "need", "gets", "get", "consists",
		"consist", "comprises", "comprise", "carries", "carry", "requires", "require")
	// afterHave are skipped after a have-verb: "consists of", "the following fields".
	afterHave = set("of", "the", "following", "fields", "field", "attributes", "attribute",
		"properties", "property", "columns", "column", "these", "info", "information", "details",
		"data", "like", "such", "as", "both", "at", "least", "also", ":")
	// modals end a subject: "a customer can have".
	modals = set("can", "could", "may", "might", "should", "must", "will", "would", "also",
		"always", "usually", "typically", "often", "each", "every", "normally", "generally", "to",
		"has", "have", "needs", "need", "does", "do", "is", "are", "ought")
	// nounStops end a noun phrase: "books in the library" → books.
	nounStops = set("in", "on", "at", "for", "from", "by", "with", "without", "that", "which", "who",
		"whom", "whose", "where", "when", "to", "into", "per", "via", "like", "such", "including",
		"about", "under", "over", "within", "across", "between", "during", "is", "are", "was",
		"were", "can", "should", "must", "will", "may", "have", "has", "having", "do", "does",
		"belongs", "belong", "if", "because", "so", "than", "as", "being", "be", "whether", "while",
		"but", "not", "no", "each", "every", "of", "lent", "borrowed", "owned", "used", "sold",
		"made", "written", "given", "shared", "kept", "stored", "bought", "rented", "loaned",
		"created", "added", "held", "taken", "sent", "received", "assigned", "placed", "booked")
	// pronouns end a noun phrase: "books i have read".
	pronouns = set("i", "we", "you", "they", "he", "she", "it", "me", "us", "them")
	// nonEntities never name an entity.
	nonEntities = set("it", "they", "them", "we", "i", "you", "he", "she", "me", "us", "one", "ones",
		"thing", "things", "stuff", "something", "everything", "anything", "nothing", "way", "ways",
		"lot", "lots", "entity", "entities", "field", "fields", "model", "models",
		"resource", "resources", "object", "objects", "data", "info",
		"information", "etc", "other", "others", "more", "rest", "crud", "json", "api", "app",
		"apps", "application", "system", "service", "website", "site", "ui",
		"screen", "screens", "feature", "features", "attribute", "attributes", "column", "columns", "type", "types", "kind", "kinds", "sort", "list",
		"detail", "details", "ability", "support", "functionality", "following",
		"relation", "relations", "relationship", "relationships", "database", "backend", "frontend",
		"also", "both", "each", "every", "all", "some", "any", "there", "here", "which", "what",
		"that", "this", "these", "those", "who", "whom", "when", "where", "how", "why", "yes", "no",
		"id", "ids", "name", "title", "time", "date", "endpoint", "endpoints", "tool", "program",
		"platform", "management", "tracking", "storage", "search", "analytics", "user_interface")
	// vagueWords make a noun phrase name nothing: "something cool".
	vagueWords = set("something", "anything", "everything", "nothing", "stuff", "thing", "things",
		"someone", "anyone", "everyone", "somebody", "whatever", "etc")
	// commandWords start commands, not noun phrases: "drop table users".
	commandWords = set("drop", "delete", "select", "insert", "update", "alter", "truncate", "exec",
		"execute", "script", "alert", "eval", "sudo", "rm", "kill", "union", "grant", "revoke")
	// metaEntities head a list of entities: "entities: books, loans".
	metaEntities = set("entities", "entity", "models", "model", "tables", "table", "resources",
		"resource", "objects", "object", "collections", "collection", "types", "things", "records",
		"data", "kinds", "nouns", "concepts")
	// metaFields head a list of fields: "fields: title, year".
	metaFields = set("fields", "field", "attributes", "attribute", "properties", "property",
		"columns", "column", "details", "info", "information")
	// relativeStops end a field phrase: "the date that it was returned".
	relativeStops = set("that", "which", "who", "whom", "where", "because", "so", "if", "when",
		"while", "but", "for", "whether", "to", "e", "g", "eg", "ie", "like", "such")
	// fieldDropWords are dropped from a field phrase.
	fieldDropWords = set("a", "an", "the", "its", "their", "his", "her", "our", "my", "your", "one",
		"some", "any", "each", "every", "also", "own", "and", "plus", "optional", "optionally",
		"required", "mandatory", "compulsory", "unique", "distinct", "must", "be", "is", "are",
		"should", "always", "whether", "it", "was", "has", "been", "field", "column", "attribute",
		"property", "possibly", "maybe", "perhaps", "just", "only", "with", "of")
	// fieldStopWords alone are no field: "and more", "etc".
	fieldStopWords = set("etc", "more", "others", "other", "so", "on", "stuff", "things", "thing",
		"everything", "anything", "something", "fields", "attributes", "properties", "details",
		"following", "info", "information", "data", "many", "lots", "various", "misc", "id", "ids",
		"created_at", "updated_at", "timestamps", "it", "them", "they", "this", "that")
	// createVerbs link a subject to what it makes: "users write posts" →
	// a post belongs to a user.
	createVerbs = set("create", "creates", "post", "posts", "write", "writes", "publish",
		"publishes", "add", "adds", "submit", "submits", "upload", "uploads", "leave", "leaves",
		"place", "places", "make", "makes", "own", "owns", "send", "sends", "share", "shares",
		"log", "logs", "record", "records", "track", "tracks", "save", "saves", "host", "hosts",
		"organize", "organizes", "raise", "raises", "manage", "manages", "open", "opens", "list",
		"lists", "sell", "sells", "offer", "offers")
	// byVerbs before "by" name a parent: "orders are placed by customers".
	byVerbs = set("owned", "made", "written", "placed", "created", "submitted", "authored",
		"posted", "booked", "sent", "issued", "published", "uploaded", "filed", "opened", "raised",
		"managed", "organized", "hosted", "run", "reported", "assigned")
	// linkVerbs before "to"/"with" name an optional parent: "a task is
	// assigned to a person".
	linkVerbs = set("linked", "assigned", "attached", "tied", "related", "connected", "associated",
		"belonging", "mapped", "bound", "added", "given")
	// pluralFieldWords are plurals that name a field, not owned entities.
	pluralFieldWords = set("notes", "tags", "keywords", "details", "instructions", "ingredients",
		"steps", "hours", "minutes", "seconds", "days", "weeks", "months", "years", "pages", "views",
		"likes", "votes", "points", "calories", "servings", "stars", "seats", "comments", "remarks",
		"directions", "lyrics", "credits", "goals", "wins", "losses", "sets", "reps", "copies",
		"units", "attempts", "downloads", "followers", "visits", "miles", "cents", "grams", "kg",
		"km", "lbs", "contents", "settings", "preferences", "costs", "fees", "sales", "earnings",
		"savings", "expenses", "rooms", "beds", "guests", "episodes", "chapters", "players")
	// measures are amounts, never things made: "employees log hours".
	measures = set("hours", "minutes", "seconds", "days", "weeks", "months", "years", "points",
		"votes", "likes", "views", "calories", "miles", "kilometers", "steps", "reps", "sets")
	// featureWords turn on app features instead of naming entities.
	featureWords = map[string]string{
		"search": "search", "searchable": "search", "searching": "search", "filter": "search",
		"filtering": "search", "filters": "search", "analytics": "analytics", "metrics": "analytics",
		"telemetry": "analytics", "stats": "analytics", "statistics": "analytics",
	}
)
