#!/usr/bin/env python3
"""Builds data/guardrails/grounding/labelled.jsonl, the labelled set for contextual grounding.

Hand-written: for each grounding source and query, responses of known kinds. Labels: "grounded" (every claim is
supported by the source) and "relevant" (the response answers the query). Kinds: grounded (close to the source),
paraphrase (grounded, reworded), hallucinated (a claim the source does not make), number (a changed number),
negation (a flipped negation), partial (one supported and one unsupported claim), offtopic (true to the source but
not answering the query), unrelated (neither).
Run: python3 data/guardrails/grounding/make_labelled.py > data/guardrails/grounding/labelled.jsonl
"""
import json, sys

G, R = "grounded", "relevant"
LABELS = {
    "grounded": (True, True), "paraphrase": (True, True), "hallucinated": (False, True), "number": (False, True),
    "negation": (False, True), "partial": (False, True), "offtopic": (True, False), "unrelated": (False, False),
}

CASES = [
    ("Employees receive 20 days of paid vacation per year. Unused vacation days can be carried over up to a maximum of 5 days. Vacation requests must be submitted two weeks in advance through the HR portal. Sick leave is separate and is capped at 10 days per year.",
     "How many vacation days do employees get each year?", [
        ("grounded", "Employees receive 20 days of paid vacation per year."),
        ("paraphrase", "You get 20 paid vacation days every year, and you can carry up to 5 unused days over."),
        ("hallucinated", "Employees receive 20 days of paid vacation per year, and managers get an extra week at Christmas."),
        ("number", "Employees receive 25 days of paid vacation per year."),
        ("negation", "Unused vacation days cannot be carried over, and employees receive 20 days per year."),
        ("partial", "Employees get 20 vacation days a year. Vacation is paid out in cash when you leave the company."),
        ("offtopic", "Sick leave is separate and is capped at 10 days per year."),
        ("unrelated", "Our cafeteria serves vegetarian lunches on Tuesdays."),
    ]),
    ("The Eiffel Tower is located in Paris, France. It was completed in 1889 for the World's Fair. The tower is 330 metres tall and was designed by the engineering company of Gustave Eiffel. It was the tallest man-made structure in the world until 1930.",
     "When was the Eiffel Tower completed?", [
        ("grounded", "The Eiffel Tower was completed in 1889 for the World's Fair."),
        ("paraphrase", "It was finished in 1889, built for the World's Fair."),
        ("hallucinated", "The Eiffel Tower was completed in 1889 and was originally painted bright red by Napoleon."),
        ("number", "The Eiffel Tower was completed in 1899."),
        ("negation", "The Eiffel Tower was not completed for the World's Fair; it opened in 1889."),
        ("partial", "It was completed in 1889. It took 12 years and 3,000 workers to build."),
        ("offtopic", "The tower is 330 metres tall."),
        ("unrelated", "The Great Wall of China is visible from many places in northern China."),
    ]),
    ("Our premium plan costs $49 per month and includes unlimited projects, 500 GB of storage and priority support. The basic plan costs $19 per month with 10 projects and 50 GB of storage. Both plans can be cancelled at any time without a fee. Annual billing gives a 15% discount.",
     "How much does the premium plan cost?", [
        ("grounded", "The premium plan costs $49 per month."),
        ("paraphrase", "Premium is 49 dollars a month, including unlimited projects and priority support."),
        ("hallucinated", "The premium plan costs $49 per month and includes a dedicated account manager and on-site training."),
        ("number", "The premium plan costs $59 per month."),
        ("negation", "The premium plan costs $49 per month and cannot be cancelled at any time."),
        ("partial", "The premium plan is $49 monthly. It also comes with a free laptop for new customers."),
        ("offtopic", "The basic plan costs $19 per month with 10 projects."),
        ("unrelated", "Remember to water your houseplants twice a week in summer."),
    ]),
    ("Amoxicillin is an antibiotic used to treat bacterial infections such as ear infections and pneumonia. The usual adult dose is 500 mg every 8 hours. It does not work against viral infections like the common cold. Common side effects include nausea and rash.",
     "Does amoxicillin treat the common cold?", [
        ("grounded", "No, amoxicillin does not work against viral infections like the common cold."),
        ("paraphrase", "It won't help with a cold, because amoxicillin doesn't work against viral infections."),
        ("hallucinated", "Amoxicillin does not treat colds, but it is very effective against the flu virus."),
        ("number", "Amoxicillin does not treat colds; the usual adult dose is 250 mg every 12 hours."),
        ("negation", "Yes, amoxicillin works against viral infections like the common cold."),
        ("partial", "Amoxicillin does not work against the common cold. It is also safe to take with alcohol in any amount."),
        ("offtopic", "Common side effects of amoxicillin include nausea and rash."),
        ("unrelated", "The stock market closed higher on Friday after strong earnings reports."),
    ]),
    ("Orders ship within 2 business days. Standard delivery takes 5 to 7 business days, and express delivery takes 2 days. Returns are accepted within 30 days of delivery if the item is unused. Refunds are issued to the original payment method within 10 days of receiving the return.",
     "How long do I have to return an item?", [
        ("grounded", "Returns are accepted within 30 days of delivery if the item is unused."),
        ("paraphrase", "You can send an unused item back up to 30 days after it is delivered."),
        ("hallucinated", "You have 30 days to return an item, and we also pay for the return shipping label."),
        ("number", "Returns are accepted within 60 days of delivery."),
        ("negation", "Returns are accepted within 30 days of delivery even if the item is not unused."),
        ("partial", "You have 30 days after delivery to return it. Opened electronics get a store credit instead of a refund."),
        ("offtopic", "Standard delivery takes 5 to 7 business days."),
        ("unrelated", "Our founder started the company in a garage in Ohio."),
    ]),
    ("Mount Kilimanjaro is the highest mountain in Africa, rising 5,895 metres above sea level. It is located in Tanzania. The mountain has three volcanic cones: Kibo, Mawenzi and Shira. Climbers usually need 6 to 8 days to reach the summit and return.",
     "How high is Mount Kilimanjaro?", [
        ("grounded", "Mount Kilimanjaro rises 5,895 metres above sea level."),
        ("paraphrase", "Kilimanjaro is 5895 metres high, the highest mountain in Africa."),
        ("hallucinated", "Kilimanjaro is 5,895 metres high and was first climbed by Edmund Hillary."),
        ("number", "Mount Kilimanjaro rises 6,895 metres above sea level."),
        ("negation", "Kilimanjaro, at 5,895 metres, is not the highest mountain in Africa."),
        ("partial", "Kilimanjaro is 5,895 metres tall. Its summit is covered by a permanent glacier that is growing every year."),
        ("offtopic", "The mountain has three volcanic cones: Kibo, Mawenzi and Shira."),
        ("unrelated", "Python is a popular programming language for data science."),
    ]),
    ("To reset your password, open Settings and choose Security. Click Reset Password and enter the code sent to your registered email address. The code expires after 15 minutes. Passwords must be at least 12 characters long and include a number.",
     "How do I reset my password?", [
        ("grounded", "Open Settings, choose Security, click Reset Password and enter the code sent to your registered email address."),
        ("paraphrase", "Go to Settings, then Security, and click Reset Password; you'll need the code emailed to you."),
        ("hallucinated", "Open Settings and click Reset Password, or call our support line and they will reset it for you."),
        ("number", "Click Reset Password in Settings and enter the code, which expires after 60 minutes."),
        ("negation", "To reset your password you do not need the code sent to your email; just click Reset Password."),
        ("partial", "Open Settings, choose Security and click Reset Password. You can also reset it by answering your security questions."),
        ("offtopic", "Passwords must be at least 12 characters long and include a number."),
        ("unrelated", "The museum is closed on public holidays."),
    ]),
    ("Marie Curie was a physicist and chemist who conducted pioneering research on radioactivity. She was the first woman to win a Nobel Prize and the only person to win Nobel Prizes in two different sciences, physics in 1903 and chemistry in 1911. She was born in Warsaw in 1867.",
     "What did Marie Curie win Nobel Prizes for?", [
        ("grounded", "Marie Curie won Nobel Prizes in physics in 1903 and chemistry in 1911."),
        ("paraphrase", "She received the Nobel Prize twice: for physics in 1903 and for chemistry in 1911."),
        ("hallucinated", "Marie Curie won Nobel Prizes in physics and chemistry, and later a third one in medicine."),
        ("number", "Marie Curie won the Nobel Prize in physics in 1905 and in chemistry in 1911."),
        ("negation", "Marie Curie was not the first woman to win a Nobel Prize; she won in physics and chemistry."),
        ("partial", "She won the physics prize in 1903 and the chemistry prize in 1911. She was born in Vienna."),
        ("offtopic", "Marie Curie was born in Warsaw in 1867."),
        ("unrelated", "Bananas are a good source of potassium."),
    ]),
    ("The library is open Monday to Friday from 8 am to 8 pm and on Saturday from 10 am to 4 pm. It is closed on Sundays. Members can borrow up to 6 books at a time for 3 weeks. Late returns cost 25 cents per book per day.",
     "Is the library open on Sunday?", [
        ("grounded", "No, the library is closed on Sundays."),
        ("paraphrase", "It's closed Sundays; on Saturday it opens from 10 am to 4 pm."),
        ("hallucinated", "The library is closed on Sundays, but the reading room opens for members from noon."),
        ("number", "The library is closed on Sundays and open on Saturday from 9 am to 5 pm."),
        ("negation", "Yes, the library is open on Sundays."),
        ("partial", "It is closed on Sundays. Members also get free coffee in the lobby."),
        ("offtopic", "Members can borrow up to 6 books at a time for 3 weeks."),
        ("unrelated", "Turn left at the second traffic light to reach the highway."),
    ]),
    ("The company reported revenue of $4.2 billion in 2023, up 12% from the previous year. Net profit was $610 million. The growth came mainly from the cloud division, whose revenue rose 35%. The company employs about 18,000 people in 40 countries.",
     "How much revenue did the company report in 2023?", [
        ("grounded", "The company reported revenue of $4.2 billion in 2023, up 12% from the previous year."),
        ("paraphrase", "2023 revenue came to $4.2 billion, a 12% increase, driven mostly by the cloud division."),
        ("hallucinated", "Revenue was $4.2 billion in 2023, and the company announced a merger with a rival."),
        ("number", "The company reported revenue of $5.2 billion in 2023."),
        ("negation", "Revenue was $4.2 billion in 2023, but growth did not come from the cloud division."),
        ("partial", "Revenue reached $4.2 billion in 2023. The CEO expects revenue to double next year."),
        ("offtopic", "The company employs about 18,000 people in 40 countries."),
        ("unrelated", "Add two cups of flour and stir until smooth."),
    ]),
]

# The first six sources are the development split (the scorer's constants were tuned on them); the last four are the
# held-out test split, scored once after tuning.
for index, (source, query, responses) in enumerate(CASES):
    for kind, response in responses:
        grounded, relevant = LABELS[kind]
        sys.stdout.write(json.dumps({"split": "dev" if index < 6 else "test", "kind": kind, "source": source, "query": query, "response": response, G: grounded, R: relevant}) + "\n")
