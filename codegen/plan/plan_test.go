package plan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/plan"
)

// MustPlan plans desc with Rules and checks that the spec validates and
// survives kiln.ParseSpec.
func MustPlan(tb testing.TB, desc string) *kiln.AppSpec {
	tb.Helper()
	s, err := plan.Rules{}.Plan(context.Background(), desc)
	if err != nil {
		tb.Fatalf("Plan(%q): %v", desc, err)
	}
	if err := s.Validate(); err != nil {
		tb.Fatalf("Plan(%q) returned a spec that fails Validate: %v", desc, err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := kiln.ParseSpec(b); err != nil {
		tb.Fatalf("Plan(%q): ParseSpec rejects the spec: %v", desc, err)
	}
	return s
}

// describe renders a spec's entities as "book/books: title string!, isbn
// string unique, done boolean=false" (! = required) and its relations as
// "loan.book_id -> book!" (! = required).
func describe(s *kiln.AppSpec) (entities, relations []string) {
	for _, e := range s.Entities {
		var fs []string
		for _, f := range e.Fields {
			x := f.Name + " " + string(f.Type)
			if f.Required {
				x += "!"
			}
			if f.Unique {
				x += " unique"
			}
			if f.Default != nil {
				j, _ := json.Marshal(f.Default)
				x += "=" + string(j)
			}
			fs = append(fs, x)
		}
		entities = append(entities, e.Name+"/"+e.Plural+": "+strings.Join(fs, ", "))
	}
	for _, r := range s.Relations {
		x := r.From + "." + r.Field + " -> " + r.To
		if r.Required {
			x += "!"
		}
		relations = append(relations, x)
	}
	return entities, relations
}

// planCases are descriptions written the ways people write, with the spec
// Rules must plan for each.
var planCases = []struct {
	desc      string
	name      string
	entities  []string
	relations []string
}{
	{
		desc: "a library API with books (title, author, year) and loans",
		name: "library",
		entities: []string{
			"book/books: title string, author string, year integer",
			"loan/loans: loaned_at timestamp!, due_date date, returned boolean",
		},
	},
	{
		desc: "Books have a title, an author and a published date",
		name: "books",
		entities: []string{
			"book/books: title string, author string, published_date date",
		},
	},
	{
		desc: "each task has a due date and a done flag",
		name: "tasks",
		entities: []string{
			"task/tasks: due_date date, done boolean",
		},
	},
	{
		desc: "customers have many orders; an order belongs to a customer",
		name: "customers",
		entities: []string{
			"customer/customers: name string!, email email",
			"order/orders: total decimal, status string",
		},
		relations: []string{"order.customer_id -> customer!"},
	},
	{
		desc: "track expenses: amount, category, note, spent on",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal, category string, note text, spent_on timestamp",
		},
	},
	{
		desc: "A todo app with tasks (title, due date, done)",
		name: "todo",
		entities: []string{
			"task/tasks: title string, due_date date, done boolean",
		},
	},
	{
		desc: "An expense tracker",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal!, spent_on date, notes text",
		},
	},
	{
		desc: "I want a recipe manager. Recipes have a title, ingredients, instructions and a prep time in minutes. Each recipe belongs to a category.",
		name: "recipe_manager",
		entities: []string{
			"recipe/recipes: title string, ingredients text, instructions text, prep_time_minutes integer",
			"category/categories: name string!",
		},
		relations: []string{"recipe.category_id -> category!"},
	},
	{
		desc: "A blog:\n- posts: title, body, published at\n- comments (body, author email)\n- tags\nPosts have many comments.",
		name: "blog",
		entities: []string{
			"post/posts: title string, body text, published_at timestamp",
			"comment/comments: body text, author_email email",
			"tag/tags: name string!",
		},
		relations: []string{"comment.post_id -> post"},
	},
	{
		desc: "Entities:\n- Book\n  - title (required)\n  - isbn (unique)\n  - price as decimal\n- Author\n  - name\n  - email\nAuthors have many books.",
		name: "books",
		entities: []string{
			"book/books: title string!, isbn string unique, price decimal",
			"author/authors: name string, email email",
		},
		relations: []string{"book.author_id -> author"},
	},
	{
		desc: "A CRM where sales reps manage contacts and deals. Contacts have a name, email, phone number and company. Deals have a title, value, stage and close date; each deal belongs to a contact.",
		name: "crm",
		entities: []string{
			"sales_rep/sales_reps: name string!",
			"contact/contacts: name string, email email, phone_number string, company string",
			"deal/deals: title string, value decimal, stage string, close_date date",
		},
		relations: []string{"contact.sales_rep_id -> sales_rep", "deal.sales_rep_id -> sales_rep", "deal.contact_id -> contact!"},
	},
	{
		desc: "Build me a simple inventory system with products (name, sku, price, quantity in stock) and suppliers (name, email, website). Each product belongs to a supplier.",
		name: "inventory",
		entities: []string{
			"product/products: name string, sku string, price decimal, quantity_in_stock integer",
			"supplier/suppliers: name string, email email, website url",
		},
		relations: []string{"product.supplier_id -> supplier!"},
	},
	{
		desc: "people and their pets. Each person has a name and a birthday. Pets have a name, species and age. A pet belongs to a person.",
		name: "people",
		entities: []string{
			"person/people: name string, birthday date",
			"pet/pets: name string, species string, age integer",
		},
		relations: []string{"pet.person_id -> person!"},
	},
	{
		desc: "An app for a gym: members (name, email, joined on), classes (title, starts at, capacity) and bookings. A booking belongs to a member and a class.",
		name: "gym",
		entities: []string{
			"member/members: name string, email email, joined_on timestamp",
			"class/classes: title string, starts_at timestamp, capacity integer",
			"booking/bookings: starts_at timestamp, notes text",
		},
		relations: []string{"booking.member_id -> member!", "booking.class_id -> class!"},
	},
	{
		desc: "Users can write posts. Posts have a title and body. Users can leave comments on posts.",
		name: "users",
		entities: []string{
			"user/users: name string!, email email",
			"post/posts: title string, body text",
			"comment/comments: body text!",
		},
		relations: []string{"post.user_id -> user", "comment.user_id -> user", "comment.post_id -> post"},
	},
	{
		desc: "for each customer, track invoices (number, amount, due date, paid)",
		name: "customers",
		entities: []string{
			"customer/customers: name string!, email email",
			"invoice/invoices: number integer, amount decimal, due_date date, paid boolean",
		},
		relations: []string{"invoice.customer_id -> customer"},
	},
	{
		desc: "We need an API to manage boxes, categories and statuses",
		name: "box_manager",
		entities: []string{
			"box/boxes: name string!",
			"category/categories: name string!",
			"status/statuses: name string!",
		},
	},
	{
		desc: "A movie watchlist with movies (title, year, rating, watched flag)",
		name: "movie_watchlist",
		entities: []string{
			"movie/movies: title string, year integer, rating integer, watched boolean",
		},
	},
	{
		desc: "A 🚀 rocket launch tracker with launches (rocket name, launch date, success?) 🔥",
		name: "rocket_launch_tracker",
		entities: []string{
			"launch/launches: rocket_name string, launch_date date, success boolean",
		},
	},
	{
		desc: "Café menu app with dishes (name, price, vegetarian) and categories. Each dish has a category.",
		name: "cafe_menu",
		entities: []string{
			"dish/dishes: name string, price decimal, vegetarian boolean",
			"category/categories: name string!",
		},
		relations: []string{"dish.category_id -> category"},
	},
	{
		desc: "Employees have a name, email (unique), salary and hire date. Departments have many employees. Name and email are required.",
		name: "employees",
		entities: []string{
			"employee/employees: name string!, email email! unique, salary decimal, hire_date date",
			"department/departments: name string!",
		},
		relations: []string{"employee.department_id -> department"},
	},
	{
		desc: "A project management tool. Projects have a name, description and deadline. Tasks have a title, status, priority and estimated hours. A task belongs to a project. Tasks can be assigned to a person.",
		name: "project_management",
		entities: []string{
			"project/projects: name string, description text, deadline date",
			"task/tasks: title string, status string, priority string, estimated_hours integer",
			"person/people: name string!, email email",
		},
		relations: []string{"task.project_id -> project!", "task.person_id -> person"},
	},
	{
		desc: "an app to track expenses: amount, date",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal, date date",
		},
	},
	{
		desc: "An app for a bakery with products and orders",
		name: "bakery",
		entities: []string{
			"product/products: name string!, price decimal",
			"order/orders: total decimal, status string",
		},
	},
	{
		desc: "A bookmark manager: links have a url, title, tags and a read flag. Users can have many links.",
		name: "bookmark_manager",
		entities: []string{
			"link/links: url url, title string, tags string, read boolean",
			"user/users: name string!, email email",
		},
		relations: []string{"link.user_id -> user"},
	},
	{
		desc: "A helpdesk where customers open tickets. Tickets have a subject, description, priority and status (default open). Agents can reply to tickets.",
		name: "helpdesk",
		entities: []string{
			"customer/customers: name string!, email email",
			"ticket/tickets: subject string, description text, priority string, status string=\"open\"",
			"agent/agents: name string!",
		},
		relations: []string{"ticket.customer_id -> customer"},
	},
	{
		desc: "The app needs to store recipes (title, servings, cook time) with ingredients. Every ingredient belongs to a recipe and has a name and quantity.",
		name: "recipes",
		entities: []string{
			"recipe/recipes: title string, servings integer, cook_time integer",
			"ingredient/ingredients: name string, quantity integer",
		},
		relations: []string{"ingredient.recipe_id -> recipe!"},
	},
	{
		desc: "1. Authors: name, bio, website\n2. Books: title, isbn, published on, price\n3. Reviews: rating, comment, reviewer email\nEach book belongs to an author. A book has many reviews.",
		name: "authors",
		entities: []string{
			"author/authors: name string, bio text, website url",
			"book/books: title string, isbn string, published_on timestamp, price decimal",
			"review/reviews: rating integer, comment text, reviewer_email email",
		},
		relations: []string{"book.author_id -> author!", "review.book_id -> book"},
	},
	{
		desc: "Event planning app. Events have a name, a location, starts at, ends at and a max attendees count. Attendees (name, email) register for events; a registration belongs to an event and an attendee.",
		name: "event_planning",
		entities: []string{
			"event/events: name string, location string, starts_at timestamp, ends_at timestamp, max_attendees_count integer",
			"attendee/attendees: name string, email email",
			"registration/registrations: name string!",
		},
		relations: []string{"registration.event_id -> event!", "registration.attendee_id -> attendee!"},
	},
	{
		desc: "a ToDo list",
		name: "todo_list",
		entities: []string{
			"task/tasks: title string!, done boolean, due_date date",
		},
	},
	{
		desc: "Make a habit tracker with search and analytics",
		name: "habit_tracker",
		entities: []string{
			"habit/habits: name string!, done boolean",
		},
	},
	{
		desc: "A fleet management system with vehicles (plate number, make, model, year, mileage) and drivers (name, license number, phone). Trips belong to a vehicle and a driver and have a distance in km, started at and ended at.",
		name: "fleet_management",
		entities: []string{
			"vehicle/vehicles: plate_number string, make string, model string, year integer, mileage decimal",
			"driver/drivers: name string, license_number string, phone string",
			"trip/trips: distance_km decimal, started_at timestamp, ended_at timestamp",
		},
		relations: []string{"trip.vehicle_id -> vehicle!", "trip.driver_id -> driver!"},
	},
	{
		desc: "An invoicing API: clients have many invoices; invoices have many line items (description, quantity, unit price); each invoice has a number (unique), an issue date, a due date and a paid flag.",
		name: "invoicing",
		entities: []string{
			"client/clients: name string!, email email",
			"invoice/invoices: number integer unique, issue_date date, due_date date, paid boolean",
			"line_item/line_items: description text, quantity integer, unit_price decimal",
		},
		relations: []string{"invoice.client_id -> client", "line_item.invoice_id -> invoice"},
	},
	{
		desc: "Inventory: items have a name, SKU, quantity and price; warehouses have a name and address; each item belongs to a warehouse.",
		name: "inventory",
		entities: []string{
			"item/items: name string, sku string, quantity integer, price decimal",
			"warehouse/warehouses: name string, address text",
		},
		relations: []string{"item.warehouse_id -> warehouse!"},
	},
	{
		desc: "a note-taking app. Notes have a title, content and tags. Notebooks have many notes.",
		name: "note_taking",
		entities: []string{
			"note/notes: title string, content text, tags string",
			"notebook/notebooks: name string!",
		},
		relations: []string{"note.notebook_id -> notebook"},
	},
	{
		desc: "Todo app\n\n* Task: title (required), notes, due date, done (default false)\n* Project: name",
		name: "todo",
		entities: []string{
			"task/tasks: title string!, notes text, due_date date, done boolean=false",
			"project/projects: name string",
		},
	},
	{
		desc: "I need to keep track of my workouts. Each workout has a date, type, duration in minutes and calories.",
		name: "workout_tracker",
		entities: []string{
			"workout/workouts: date date, kind string, duration_minutes integer, calories integer",
		},
	},
	{
		desc: "Restaurant reservations: tables (number, seats) and reservations (guest name, phone, party size, reserved for). A reservation belongs to a table.",
		name: "restaurant_reservations",
		entities: []string{
			"table/tables: number integer, seats integer",
			"reservation/reservations: guest_name string, phone string, party_size integer, reserved string",
		},
		relations: []string{"reservation.table_id -> table!"},
	},
	{
		desc: "Pets: name, species, birth date. Vets: name, phone. Visits: date, reason, cost; a visit belongs to a pet and a vet.",
		name: "pets",
		entities: []string{
			"pet/pets: name string, species string, birth_date date",
			"vet/vets: name string, phone string",
			"visit/visits: date date, reason string, cost decimal",
		},
		relations: []string{"visit.pet_id -> pet!", "visit.vet_id -> vet!"},
	},
	{
		desc: "A school app with teachers, classes and students. Each class has a teacher. Students have a name and grade.",
		name: "school",
		entities: []string{
			"teacher/teachers: name string!, email email",
			"class/classes: name string!",
			"student/students: name string, grade string",
		},
		relations: []string{"class.teacher_id -> teacher"},
	},
	{
		desc: "Customers (name, email), Products (name, price), Orders (date, total). An order belongs to a customer. Orders have many order items; an order item belongs to a product and has a quantity.",
		name: "customers",
		entities: []string{
			"customer/customers: name string, email email",
			"product/products: name string, price decimal",
			"order/orders: date date, total decimal",
			"order_item/order_items: quantity integer",
		},
		relations: []string{"order.customer_id -> customer!", "order_item.order_id -> order", "order_item.product_id -> product!"},
	},
	{
		desc: "Time tracking: projects and time entries (started at, ended at, description, billable). Each time entry belongs to a project.",
		name: "time_tracking",
		entities: []string{
			"project/projects: name string!, description text",
			"time_entry/time_entries: started_at timestamp, ended_at timestamp, description text, billable boolean",
		},
		relations: []string{"time_entry.project_id -> project!"},
	},
	{
		desc: "a url shortener: links with a target url, a slug (unique) and a click count",
		name: "url_shortener",
		entities: []string{
			"link/links: target_url url, slug string unique, click_count integer",
		},
	},
	{
		desc: "Manage employees and departments. An employee belongs to a department. Employees have first name, last name, email, hired on, salary, and is_manager.",
		name: "employee_manager",
		entities: []string{
			"employee/employees: first_name string, last_name string, email email, hired_on timestamp, salary decimal, is_manager boolean",
			"department/departments: name string!",
		},
		relations: []string{"employee.department_id -> department!"},
	},
	{
		desc: "Build a simple CRUD API for products with name, description, price and in stock.",
		name: "products",
		entities: []string{
			"product/products: name string, description text, price decimal, in_stock boolean",
		},
	},
	{
		desc: "Polls with questions and options; each option belongs to a question and has a votes count",
		name: "polls",
		entities: []string{
			"poll/polls: title string!",
			"question/questions: title string!, body text!",
			"option/options: votes_count integer",
		},
		relations: []string{"question.poll_id -> poll", "option.poll_id -> poll", "option.question_id -> question!"},
	},
	{
		desc: "A podcast app with shows and episodes. Each show has many episodes. Episodes have a title, audio url, duration and published at.",
		name: "podcast",
		entities: []string{
			"show/shows: title string!",
			"episode/episodes: title string, audio_url url, duration integer, published_at timestamp",
		},
		relations: []string{"episode.show_id -> show"},
	},
	{
		desc: "A real estate listing site: properties (address, price, bedrooms, bathrooms, square feet, listed on) and agents (name, phone, email). Properties belong to agents.",
		name: "real_estate_listing",
		entities: []string{
			"property/properties: address text, price decimal, bedrooms integer, bathrooms integer, square_feet integer, listed_on timestamp",
			"agent/agents: name string, phone string, email email",
		},
		relations: []string{"property.agent_id -> agent!"},
	},
	{
		desc: "PERSONAL FINANCE APP WITH ACCOUNTS AND TRANSACTIONS. TRANSACTIONS HAVE AN AMOUNT, DATE, PAYEE AND MEMO.",
		name: "finance",
		entities: []string{
			"account/accounts: name string!",
			"transaction/transactions: amount decimal, date date, payee string, memo text",
		},
	},
	{
		desc: "  books  ,  authors  ",
		name: "books",
		entities: []string{
			"book/books: title string!, author string, year integer",
			"author/authors: name string!, email email",
		},
	},
	{
		desc: "Über-cool Müller app with Bücher (Titel, Jahr)",
		name: "uber_muller",
		entities: []string{
			"bucher/buchers: titel string, jahr string",
		},
	},
	{
		desc: "a wiki with pages (title, body) and a search",
		name: "wiki",
		entities: []string{
			"page/pages: title string, body text",
		},
	},
	{
		desc: "a store with categories, products (name, price, stock count, image) and orders. Products belong to a category. Customers place orders.",
		name: "store",
		entities: []string{
			"category/categories: name string!",
			"product/products: name string, price decimal, stock_count integer, image url",
			"order/orders: total decimal, status string",
			"customer/customers: name string!, email email",
		},
		relations: []string{"product.category_id -> category!", "order.customer_id -> customer"},
	},
	{
		desc: "Library. Members: name, email (required, unique), member since. Books: title, author, ISBN (unique), copies. Loans: borrowed on, due on, returned on. A loan belongs to a member and a book.",
		name: "library",
		entities: []string{
			"member/members: name string, email email! unique, member_since date",
			"book/books: title string, author string, isbn string unique, copies integer",
			"loan/loans: borrowed_on timestamp, due_on timestamp, returned_on timestamp",
		},
		relations: []string{"loan.member_id -> member!", "loan.book_id -> book!"},
	},
	{
		desc: "Job board with companies (name, website, logo), jobs (title, description, salary, remote?, posted at) and applications (name, email, resume url, cover letter). Jobs belong to companies; applications belong to jobs.",
		name: "job_board",
		entities: []string{
			"company/companies: name string, website url, logo url",
			"job/jobs: title string, description text, salary decimal, remote boolean, posted_at timestamp",
			"application/applications: name string, email email, resume_url url, cover_letter string",
		},
		relations: []string{"job.company_id -> company!", "application.job_id -> job!"},
	},
	{
		desc: "Users have an email (unique, required), a display name, and an is_admin flag",
		name: "users",
		entities: []string{
			"user/users: email email! unique, display_name string, is_admin boolean",
		},
	},
	{
		desc: "Surveys have many questions; each question has a text, a type and a required flag; answers belong to questions and have a value.",
		name: "surveys",
		entities: []string{
			"survey/surveys: title string!",
			"question/questions: text text, kind string, required boolean",
			"answer/answers: value decimal",
		},
		relations: []string{"question.survey_id -> survey", "answer.question_id -> question!"},
	},
	{
		desc: "select * from users; drop table books",
		name: "drop_table_books",
		entities: []string{
			"drop_table_book/drop_table_books: title string!, author string, year integer",
		},
	},
	{
		desc: "func type select (a, b, c)",
		name: "func_type_selects",
		entities: []string{
			"func_type_select/func_type_selects: b string, c string",
		},
	},
	{
		desc: "Products have a name, a price as money, a weight (number), a sku: string and stock count (integer); boxes have a label; statuses have a name; categories have a name and a parent id",
		name: "products",
		entities: []string{
			"product/products: name string, price decimal, weight decimal, sku string, stock_count integer",
			"box/boxes: label string",
			"status/statuses: name string",
			"category/categories: name string, parent_id string",
		},
	},
	{
		desc: "Orders: placed at, total, status (default pending), gift (default no)",
		name: "orders",
		entities: []string{
			"order/orders: placed_at timestamp, total decimal, status string=\"pending\", gift boolean=false",
		},
	},
	{
		desc: "Each order has a customer and a total. Customers have a name.",
		name: "orders",
		entities: []string{
			"order/orders: total decimal",
			"customer/customers: name string",
		},
		relations: []string{"order.customer_id -> customer"},
	},
	{
		desc: "A simple app to manage my book collection",
		name: "book_manager",
		entities: []string{
			"book/books: title string!, author string, year integer",
		},
	},
	{
		desc: "an app where I can log my daily mood with a note",
		name: "daily_mood_log",
		entities: []string{
			"daily_mood/daily_moods: note text",
		},
	},
	{
		desc: "I want to track my running: distance, time, date",
		name: "running_tracker",
		entities: []string{
			"running/runnings: distance decimal, time timestamp, date date",
		},
	},
	{
		desc: "Contacts app: name, phone, email, birthday",
		name: "contacts",
		entities: []string{
			"contact/contacts: name string, phone string, email email, birthday date",
		},
	},
	{
		desc: "A todo list where tasks have a title, a priority (1-5) and can be marked done",
		name: "todo_list",
		entities: []string{
			"task/tasks: title string, priority integer, done boolean",
		},
	},
	{
		desc: "Inventory of tools lent to neighbours: tool name, borrower, lent on, returned",
		name: "tools",
		entities: []string{
			"tool/tools: tool_name string, borrower string, lent_on timestamp, returned boolean",
		},
	},
	{
		desc: "A CRM. Companies have many contacts. Contacts have a name and email. Deals belong to companies and have an amount and a stage.",
		name: "crm",
		entities: []string{
			"company/companies: name string!",
			"contact/contacts: name string, email email",
			"deal/deals: amount decimal, stage string",
		},
		relations: []string{"contact.company_id -> company", "deal.company_id -> company!"},
	},
	{
		desc: "Simple guestbook: messages with a name, message and created time",
		name: "guestbook",
		entities: []string{
			"message/messages: name string, message text, created_time timestamp",
		},
	},
	{
		desc: "A workout log: exercises (name, muscle group) and sets (reps, weight, exercise)",
		name: "workout_log",
		entities: []string{
			"exercise/exercises: name string, muscle_group string",
			"set/sets: reps integer, weight decimal",
		},
		relations: []string{"set.exercise_id -> exercise"},
	},
	{
		desc: "a movie database with movies, actors and directors. Movies have a title, release year and genre. Each movie has a director.",
		name: "movie",
		entities: []string{
			"movie/movies: title string, release_year integer, genre string",
			"actor/actors: name string!",
			"director/directors: name string!",
		},
		relations: []string{"movie.director_id -> director"},
	},
	{
		desc: "Library management: books, members, loans",
		name: "library_management",
		entities: []string{
			"book/books: title string!, author string, year integer",
			"member/members: name string!, email email",
			"loan/loans: loaned_at timestamp!, due_date date, returned boolean",
		},
	},
	{
		desc: "Build an api for tracking bugs. Bugs have title, description, severity, status, reported by, assigned to and fixed flag.",
		name: "bug_tracker",
		entities: []string{
			"bug/bugs: title string, description text, severity string, status string, reported_by string, assigned string, fixed boolean",
		},
	},
	{
		desc: "A hotel booking system with rooms (number, type, price per night), guests (name, email, phone) and bookings (check in date, check out date). Bookings belong to rooms and guests.",
		name: "hotel_booking",
		entities: []string{
			"room/rooms: number integer, kind string, price_per_night decimal",
			"guest/guests: name string, email email, phone string",
			"booking/bookings: check_in_date date, check_out_date date",
		},
		relations: []string{"booking.room_id -> room!", "booking.guest_id -> guest!"},
	},
	{
		desc: "A marketplace where sellers list products and buyers place orders",
		name: "marketplace",
		entities: []string{
			"seller/sellers: name string!",
			"product/products: name string!, price decimal",
			"buyer/buyers: name string!",
			"order/orders: total decimal, status string",
		},
		relations: []string{"product.seller_id -> seller", "order.buyer_id -> buyer"},
	},
	{
		desc: "Expense tracker. Each expense has an amount, a category and a date. Categories have a name and a monthly budget.",
		name: "expense_tracker",
		entities: []string{
			"expense/expenses: amount decimal, date date",
			"category/categories: name string, monthly_budget decimal",
		},
		relations: []string{"expense.category_id -> category"},
	},
	{
		desc: "Books:\ntitle (required)\nauthor\npublished on\n\nAuthors:\nname",
		name: "books",
		entities: []string{
			"book/books: title string!, published_on timestamp",
			"author/authors: name string",
		},
		relations: []string{"book.author_id -> author"},
	},
}

func TestRules_Plan(t *testing.T) {
	t.Parallel()
	if len(planCases) < 40 {
		t.Fatalf("only %d cases", len(planCases))
	}
	for i, tt := range planCases {
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			t.Parallel()
			s := MustPlan(t, tt.desc)
			entities, relations := describe(s)
			if diff := cmp.Diff(tt.entities, entities); diff != "" {
				t.Errorf("%q: entities (-want +got):\n%s", tt.desc, diff)
			}
			if diff := cmp.Diff(tt.relations, relations); diff != "" {
				t.Errorf("%q: relations (-want +got):\n%s", tt.desc, diff)
			}
			if s.Name != tt.name {
				t.Errorf("%q: name = %q, want %q", tt.desc, s.Name, tt.name)
			}
			if s.KilnSpec != kiln.SpecVersion {
				t.Errorf("kiln_spec = %d", s.KilnSpec)
			}
			if !strings.Contains(strings.Join(s.Features, ","), kiln.FeatureUI) {
				t.Errorf("features %v lack ui", s.Features)
			}
		})
	}
}
